//! The SGS100A driver against the emulator over real loopback TCP sockets.

use eigen_drivers::emulator::{EmulatedInstrument, Emulator, Reply, Request, undefined_header};
use eigen_drivers::rohde_schwarz_sgs100a::emulated::EmulatedSgs100a;
use eigen_drivers::rohde_schwarz_sgs100a::{self as sgs, Sgs100a};
use eigen_drivers::scpi::{ErrorEntry, ScpiSession};
use eigen_drivers::transport::TcpTransport;
use eigen_drivers::{ErrorKind, Registry};
use eigen_hal::instrument::{Identity, Instrument, InstrumentErrorKind, SignalSource};
use eigen_hal::units::Hertz;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn emulator() -> Emulator<EmulatedSgs100a> {
    Emulator::new(EmulatedSgs100a::new("1416.0505k02/101010")).serve_tcp().expect("bind loopback")
}

fn session(emu: &Emulator<EmulatedSgs100a>, timeout: Duration) -> ScpiSession<TcpTransport> {
    let addr = emu.addr().expect("serving over TCP");
    let transport = TcpTransport::connect(&addr.ip().to_string(), addr.port(), timeout)
        .expect("connect to the emulator");
    ScpiSession::new(transport)
}

#[test]
fn registry_opens_the_driver_by_model_and_by_identity() {
    let emu = emulator();
    let resource = emu.resource().unwrap();
    let registry = Registry::builtin();
    assert!(registry.models().any(|m| m == sgs::MODEL));

    let mut by_model = registry.open(sgs::MODEL, &resource, TIMEOUT).unwrap();
    assert_eq!(by_model.model(), sgs::MODEL);
    let id = by_model.identify().unwrap();
    assert_eq!((id.model.as_str(), id.serial.as_str()), ("SGS100A", "1416.0505k02/101010"));
    assert!(by_model.as_waveform_output().is_none());

    let mut by_idn = registry.open_identified(&resource, TIMEOUT).unwrap();
    let source = by_idn.as_signal_source().expect("an SGS100A is a signal source");
    source.set_tone(Hertz::from_ghz(6.25), -5.0).unwrap();
    source.set_output(true).unwrap();
    emu.with_state(|s| {
        assert_eq!(s.instrument.frequency_hz, 6.25e9);
        assert_eq!(s.instrument.power_dbm, -5.0);
        assert!(s.instrument.output);
    });

    let e = registry.open("keysight_n5183b", &resource, TIMEOUT).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::UnknownModel);
    assert!(e.message().contains("rohde_schwarz_sgs100a"), "{e}");
}

#[test]
fn set_tone_reads_back_and_reset_restores_power_on_state() {
    let emu = emulator();
    let mut lo = Sgs100a::open(session(&emu, TIMEOUT)).unwrap();
    lo.set_tone(Hertz(7.123_456_789e9), 3.5).unwrap();
    SignalSource::set_output(&mut lo, true).unwrap();
    assert_eq!(lo.frequency().unwrap(), Hertz(7.123_456_789e9));
    assert_eq!(lo.power_dbm().unwrap(), 3.5);
    assert!(lo.output().unwrap());
    assert!(lo.errors().unwrap().is_empty());

    lo.reset().unwrap();
    assert_eq!(lo.frequency().unwrap(), Hertz(1e9));
    assert!(!lo.output().unwrap());
    let log = emu.with_state(|s| s.log.clone());
    assert!(log.contains(&"SOUR:FREQ:CW 7123456789".to_string()), "{log:?}");
    assert!(log.contains(&"*RST".to_string()), "{log:?}");
}

#[test]
fn out_of_range_values_are_refused_before_reaching_the_instrument() {
    let emu = emulator();
    let mut lo = Sgs100a::open(session(&emu, TIMEOUT)).unwrap();
    let sent_before = emu.with_state(|s| s.log.len());
    let e = lo.set_tone(Hertz::from_ghz(20.0), 0.0).unwrap_err();
    assert_eq!(e.kind(), InstrumentErrorKind::OutOfRange);
    assert!(e.to_string().contains("12750000000"), "{e}");
    let e = lo.set_tone(Hertz::from_ghz(5.0), 40.0).unwrap_err();
    assert_eq!(e.kind(), InstrumentErrorKind::OutOfRange);
    assert_eq!(emu.with_state(|s| s.log.len()), sent_before, "nothing was sent");
}

#[test]
fn instrument_errors_are_drained_in_order_and_reported() {
    let emu = emulator();
    let mut s = session(&emu, TIMEOUT);
    s.write_raw(b"SOUR:FREQ:CW 99e9").unwrap();
    s.write_raw(b"BOGUS:CMD 1").unwrap();
    let errors = s.drain_errors().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].code, -222);
    assert_eq!(errors[1].code, -113);
    assert!(s.drain_errors().unwrap().is_empty(), "the queue is empty after draining");

    s.write_raw(b"OUTP:STAT MAYBE").unwrap();
    let e = s.check_errors().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Instrument);
    assert!(e.message().contains("-224"), "{e}");

    // The driver surfaces queued errors as its result.
    let mut lo = Sgs100a::open(s).unwrap();
    emu.with_state(|st| {
        st.errors.push_back(ErrorEntry { code: -313, message: "Calibration memory lost".into() });
    });
    let e = SignalSource::set_output(&mut lo, true).unwrap_err();
    assert_eq!(e.kind(), InstrumentErrorKind::Instrument);
    assert!(e.to_string().contains("Calibration memory lost"), "{e}");
}

#[test]
fn binary_blocks_round_trip_through_files() {
    let emu = emulator();
    let mut lo = Sgs100a::open(session(&emu, TIMEOUT)).unwrap();
    // Bytes that would break line framing: terminators, '#', quotes, NUL.
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    lo.store_file("/var/user/list.lsw", data.clone()).unwrap();
    assert_eq!(emu.with_state(|s| s.files["/var/user/list.lsw"].len()), 70_000);
    assert_eq!(lo.load_file("/var/user/list.lsw").unwrap(), data);
    lo.store_file("empty", Vec::new()).unwrap();
    assert!(lo.load_file("empty").unwrap().is_empty());
}

#[test]
fn a_missing_file_reports_the_instruments_reason() {
    let emu = emulator();
    let mut lo = Sgs100a::open(session(&emu, Duration::from_millis(300))).unwrap();
    let e = lo.load_file("nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Instrument);
    assert!(e.message().contains("File name not found"), "{e}");
}

#[test]
fn a_silent_instrument_times_out() {
    let emu = emulator();
    let mut lo = Sgs100a::open(session(&emu, Duration::from_millis(200))).unwrap();
    emu.with_state(|s| s.mute = true);
    let e = lo.identify().unwrap_err();
    assert_eq!(e.kind(), InstrumentErrorKind::Timeout);
    assert!(e.to_string().contains("raise the session timeout"), "{e}");
    assert!(e.to_string().contains("*IDN?"), "names the command: {e}");
}

#[test]
fn connection_failures_are_io_errors_naming_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let resource = format!("TCPIP0::127.0.0.1::{port}::SOCKET");
    let e = Registry::builtin().open(sgs::MODEL, &resource, TIMEOUT).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.message().contains(&format!("127.0.0.1:{port}")), "{e}");

    let e = Registry::builtin().open(sgs::MODEL, "GPIB0::1::INSTR", TIMEOUT).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidResource);
}

/// Another instrument on the bus: the SGS100A driver must refuse it.
struct Multimeter;

impl EmulatedInstrument for Multimeter {
    fn identity(&self) -> Identity {
        Identity {
            vendor: "Keysight Technologies".into(),
            model: "34465A".into(),
            serial: "MY000001".into(),
            firmware: "A.03".into(),
        }
    }
    fn reset(&mut self) {}
    fn handle(&mut self, request: &Request) -> Result<Option<Reply>, ErrorEntry> {
        Err(undefined_header(request))
    }
}

#[test]
fn the_wrong_model_is_refused_with_its_identity() {
    let emu = Emulator::new(Multimeter).serve_tcp().unwrap();
    let resource = emu.resource().unwrap();
    let e = Registry::builtin().open(sgs::MODEL, &resource, TIMEOUT).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::UnknownModel);
    assert!(e.message().contains("34465A"), "{e}");
    let e = Registry::builtin().open_identified(&resource, TIMEOUT).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::UnknownModel);
}
