//! The SGS100A driver against the emulator over a real pseudo-terminal pair
//! (the emulator on the master side, the driver on the slave side, as a
//! USB-serial adapter would be).

use eigen_drivers::Registry;
use eigen_drivers::emulator::Emulator;
use eigen_drivers::rohde_schwarz_sgs100a::emulated::EmulatedSgs100a;
use eigen_drivers::rohde_schwarz_sgs100a::{self as sgs, Sgs100a};
use eigen_drivers::scpi::ScpiSession;
use eigen_drivers::transport::SerialTransport;
use eigen_hal::instrument::SignalSource;
use eigen_hal::units::Hertz;
use serialport::{SerialPort, TTYPort};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn driver_on_a_pty_pair() {
    let (master, slave) = TTYPort::pair().expect("open a pseudo-terminal pair");
    let path = slave.name().expect("the slave end has a path");
    let mut emu = Emulator::new(EmulatedSgs100a::default());
    emu.serve_port(master);

    let transport = SerialTransport::from_port(Box::new(slave), path, TIMEOUT).unwrap();
    let mut lo = Sgs100a::open(ScpiSession::new(transport)).unwrap();
    lo.set_tone(Hertz::from_ghz(4.8), -10.0).unwrap();
    lo.set_output(true).unwrap();
    assert_eq!(lo.frequency().unwrap(), Hertz(4.8e9));
    let data = b"#1\n\r\x00 block bytes over a tty".repeat(100);
    lo.store_file("f", data.clone()).unwrap();
    assert_eq!(lo.load_file("f").unwrap(), data);
    emu.with_state(|s| assert!(s.instrument.output && s.instrument.power_dbm == -10.0));
}

#[test]
fn registry_opens_a_serial_resource_string() {
    let (master, slave) = TTYPort::pair().expect("open a pseudo-terminal pair");
    let path = slave.name().expect("the slave end has a path");
    let mut emu = Emulator::new(EmulatedSgs100a::default());
    emu.serve_port(master);

    let resource = format!("ASRL{path}::INSTR");
    let mut lo = Registry::builtin().open(sgs::MODEL, &resource, TIMEOUT).unwrap();
    // The pair's own slave handle kept the pty alive until the driver opened
    // it by path; the driver's handle is enough from here.
    drop(slave);
    assert_eq!(lo.identify().unwrap().model, "SGS100A");
    lo.as_signal_source().unwrap().set_tone(Hertz::from_ghz(5.0), 0.0).unwrap();
    emu.with_state(|s| assert_eq!(s.instrument.frequency_hz, 5e9));
}
