//! kill -9 under load (issue 5): every job whose SubmitJob returned OK
//! survives a SIGKILL of `eigen serve` and, after a restart on the same data
//! directory, reaches a terminal state (DONE here: nothing in this scenario
//! can fail), none stuck. The real binary, real gRPC over loopback, the real
//! embedded store.

mod cli_support;

use cli_support::Server;
use eigen_proto::api::v1 as pb;
use pb::job_service_client::JobServiceClient;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

const BELL: &str = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nbit[2] c;\n\
                    h q[0];\ncx q[0], q[1];\nc = measure q;\n";
const SHOTS: u32 = 1000;
/// Submitters hammering the server when it is killed.
const SUBMITTERS: usize = 8;
/// Accepted jobs before the kill (a lower bound: submits in flight go on).
const ACCEPTED_BEFORE_KILL: usize = 150;

async fn client(addr: &str) -> JobServiceClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match JobServiceClient::connect(addr.to_owned()).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot connect to {addr}: {e}"),
        }
    }
}

/// The Bell circuit; every other one (odd `n`) with a comment making its
/// text unique, so it is compiled afresh and, its run time unknown, goes
/// through the device queue: a short program the kernel knows may run
/// while it is submitted and be committed finished, and the kill must also
/// find jobs queued and executing.
fn bell(submitter: usize, n: usize) -> pb::SubmitJobRequest {
    let program =
        if n % 2 == 1 { format!("{BELL}// job {submitter}-{n}\n") } else { BELL.to_owned() };
    pb::SubmitJobRequest {
        name: "crash".into(),
        program,
        target: "sim".into(),
        shots: SHOTS,
        ..Default::default()
    }
}

fn is_terminal(status: i32) -> bool {
    [pb::JobStatus::Done, pb::JobStatus::Error, pb::JobStatus::Cancelled, pb::JobStatus::Timeout]
        .iter()
        .any(|s| *s as i32 == status)
}

/// `layers` layers of h on every qubit then a cx chain, on `n` qubits, measured.
fn layered(n: usize, layers: usize) -> String {
    let mut p = format!("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[{n}] q;\nbit[{n}] c;\n");
    for _ in 0..layers {
        p.extend((0..n).map(|i| format!("h q[{i}];\n")));
        p.extend((1..n).map(|i| format!("cx q[{}], q[{i}];\n", i - 1)));
    }
    p + "c = measure q;\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_job_survives_kill_9_and_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[]);
    let accepted: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for submitter in 0..SUBMITTERS {
        let (addr, accepted, stop) = (server.addr.clone(), accepted.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut jobs = client(&addr).await;
            // Bounded: at most 10,000 submits per submitter.
            for n in 0..10_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match jobs.submit_job(bell(submitter, n)).await {
                    // OK means durable: it must survive what follows.
                    Ok(r) => accepted.lock().expect("lock").push(r.into_inner().job_id),
                    // The server died under us: no promise was made.
                    Err(_) => break,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while accepted.lock().expect("lock").len() < ACCEPTED_BEFORE_KILL {
        assert!(Instant::now() < deadline, "the server accepted too few jobs:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // One job certainly unfinished at the kill, however fast the others
    // ran: it waits on a dependency that takes tens of milliseconds (a
    // 20-qubit circuit of 40 layers), and the kill follows its OK at once.
    let mut jobs = client(&server.addr).await;
    let heavy = pb::SubmitJobRequest { program: layered(20, 40), ..bell(0, 0) };
    let heavy = jobs.submit_job(heavy).await.expect("submit the heavy job").into_inner().job_id;
    let waiting = pb::SubmitJobRequest { dependencies: vec![heavy], ..bell(0, 0) };
    let waiting = jobs.submit_job(waiting).await.expect("submit the dependent job").into_inner();
    accepted.lock().expect("lock").push(waiting.job_id);
    // SIGKILL under load: no shutdown, no flush.
    server.kill();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("submitter");
    }
    let accepted = accepted.lock().expect("lock").clone();
    assert!(accepted.len() >= ACCEPTED_BEFORE_KILL);

    let server = Server::start(dir.path(), &[]);
    eprintln!("{} jobs accepted before and during the kill", accepted.len());
    let mut jobs = client(&server.addr).await;
    let deadline = Instant::now() + Duration::from_secs(180);
    for id in &accepted {
        let status = loop {
            let req = pb::JobStatusRequest { job_id: id.clone() };
            let st = match jobs.get_job_status(req).await {
                Ok(r) => r.into_inner(),
                Err(e) => panic!("accepted job {id} lost after kill -9: {e}\n{}", server.log()),
            };
            if is_terminal(st.status) {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} stuck in {:?} after restart\n{}",
                st.status,
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            status.status,
            pb::JobStatus::Done as i32,
            "job {id} ended {:?}: {}",
            status.status,
            status.message
        );
        let results = jobs
            .get_job_results(pb::JobResultsRequest { job_id: id.clone() })
            .await
            .expect("results of a DONE job")
            .into_inner();
        assert_eq!(results.counts.values().sum::<u64>(), u64::from(SHOTS), "job {id}");
        assert!(results.counts.keys().all(|k| k == "00" || k == "11"), "{:?}", results.counts);
    }
    assert!(server.log().contains("recovering unfinished jobs"), "{}", server.log());
}
