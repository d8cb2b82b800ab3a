//! TLS: with a certificate and key configured the server speaks only TLS; a
//! client trusting the CA runs a job to DONE, a plaintext client and a client
//! not trusting the CA get nowhere. Certificates are made at test time.

mod contract_support;
mod tls_support;

use contract_support::*;
use eigen_api::config::{ServerConfig, TlsConfig};
use eigen_proto::api::v1 as pb;
use pb::job_service_client::JobServiceClient;
use std::time::Duration;
use tls_support::Pki;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// A guard against a hang, not a performance check.
const NO_HANG: Duration = Duration::from_secs(60);

async fn tls_server(pki: &Pki) -> TestServer {
    let config = ServerConfig {
        tls: Some(TlsConfig { cert: pki.cert.clone(), key: pki.key.clone() }),
        ..ServerConfig::default()
    };
    start_with(config, |_| {}).await
}

/// A status call over `endpoint`: the connection's or the call's error.
async fn try_call(endpoint: Endpoint) -> Result<(), String> {
    let attempt = async {
        let channel = endpoint.connect().await.map_err(|e| format!("connect: {e:?}"))?;
        JobServiceClient::new(channel)
            .get_job_status(pb::JobStatusRequest { job_id: "x".into() })
            .await
            .map(drop)
            .map_err(|s| format!("call: {s:?}"))
    };
    tokio::time::timeout(NO_HANG, attempt).await.expect("the attempt ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_trusting_the_ca_runs_a_job_to_done() {
    let pki = Pki::new("Eigen test CA");
    let server = tls_server(&pki).await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}", server.addr.port());
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem));
        let channel = Endpoint::from_shared(url.clone())
            .expect("url")
            .tls_config(tls)
            .expect("TLS config")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("TLS connect to {url}: {e:?}"));
        let mut jobs = JobServiceClient::new(channel);
        let job = jobs.submit_job(submit(&ghz(3), 100)).await.expect("submit").into_inner();
        let stream = jobs
            .stream_job_updates(pb::JobUpdatesRequest {
                job_id: job.job_id.clone(),
                last_event_seq: 0,
            })
            .await
            .expect("stream")
            .into_inner();
        let (updates, err) = collect(stream).await;
        assert!(err.is_none(), "{err:?}");
        assert_stream_contract(&updates, 1);
        assert_eq!(updates.last().map(|u| u.state), Some(pb::JobStatus::Done as i32));
        let results = jobs
            .get_job_results(pb::JobResultsRequest { job_id: job.job_id })
            .await
            .expect("results")
            .into_inner();
        assert_eq!(results.counts.values().sum::<u64>(), 100);
        assert!(results.counts.keys().all(|k| k == "000" || k == "111"), "{:?}", results.counts);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_and_untrusting_clients_get_nowhere() {
    let pki = Pki::new("Eigen test CA");
    let server = tls_server(&pki).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());

    let plaintext = Endpoint::from_shared(server.url()).expect("url");
    let err = try_call(plaintext).await.expect_err("plaintext against a TLS server");
    assert!(!err.is_empty());

    // Trusting another CA: the server's certificate does not verify.
    let other = Pki::new("Another CA");
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&other.ca_pem));
    let untrusting = Endpoint::from_shared(url).expect("url").tls_config(tls).expect("TLS config");
    let err = try_call(untrusting).await.expect_err("certificate from an unknown CA");
    assert!(err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"), "{err}");

    // The server is unharmed: a trusting client still gets through.
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&pki.ca_pem));
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let trusting = Endpoint::from_shared(url).expect("url").tls_config(tls).expect("TLS config");
    let err = try_call(trusting).await.expect_err("unknown job id");
    assert!(err.contains("NotFound") || err.contains("InvalidArgument"), "{err}");
}
