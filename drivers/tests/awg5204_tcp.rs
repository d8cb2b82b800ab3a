//! The AWG5204 driver against the emulator over real loopback TCP sockets:
//! waveforms travel as IEEE 488.2 blocks of floats.

use eigen_drivers::emulator::Emulator;
use eigen_drivers::tektronix_awg5204::emulated::EmulatedAwg5204;
use eigen_drivers::tektronix_awg5204::{self as awg, Awg5204};
use eigen_drivers::{Registry, ScpiSession, transport::TcpTransport};
use eigen_hal::instrument::{Instrument, InstrumentErrorKind, WaveformOutput};
use eigen_hal::pulse::Waveform;
use eigen_hal::units::Hertz;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn connect(emu: &Emulator<EmulatedAwg5204>) -> Awg5204<TcpTransport> {
    let addr = emu.addr().expect("serving over TCP");
    let transport = TcpTransport::connect(&addr.ip().to_string(), addr.port(), TIMEOUT)
        .expect("connect to the emulator");
    Awg5204::open(ScpiSession::new(transport)).expect("an AWG5204 answers")
}

fn drag(duration: u64, amp: f64) -> Waveform {
    Waveform::Drag { duration, amp: num_complex::Complex64::new(amp, 0.0), sigma: 40.0, beta: 2.0 }
}

#[test]
fn load_plays_i_and_q_on_the_channels_output_pair() {
    let emu = Emulator::new(EmulatedAwg5204::default()).serve_tcp().unwrap();
    let mut awg = connect(&emu);
    let pulse = drag(160, 0.8);
    awg.load(1, &pulse, Hertz(1.2e9)).unwrap();
    awg.set_output(1, true).unwrap();

    let expect_i: Vec<f32> = (0..160).map(|k| pulse.sample_at(k).re as f32).collect();
    let expect_q: Vec<f32> = (0..160).map(|k| pulse.sample_at(k).im as f32).collect();
    assert!(expect_q.iter().any(|&q| q != 0.0), "DRAG has a quadrature component");
    emu.with_state(|s| {
        let a = &s.instrument;
        assert_eq!(a.waveforms["eigen_ch1_i"], expect_i);
        assert_eq!(a.waveforms["eigen_ch1_q"], expect_q);
        assert_eq!(a.assigned[2].as_deref(), Some("eigen_ch1_i"));
        assert_eq!(a.assigned[3].as_deref(), Some("eigen_ch1_q"));
        assert_eq!(a.assigned[0], None);
        assert_eq!(a.outputs, [false, false, true, true]);
        assert_eq!(a.sample_rate_hz, 1.2e9);
    });
    assert_eq!(awg.waveform("eigen_ch1_q").unwrap(), expect_q);
    assert_eq!(awg.sample_rate().unwrap(), Hertz(1.2e9));
    assert!(awg.output(3).unwrap() && !awg.output(1).unwrap());

    // Loading again replaces the channel's waveforms.
    let flat = Waveform::Constant { duration: 32, amp: num_complex::Complex64::new(0.25, -0.5) };
    awg.load(1, &flat, Hertz(1.2e9)).unwrap();
    assert_eq!(awg.waveform("eigen_ch1_i").unwrap(), vec![0.25; 32]);
    assert_eq!(awg.waveform("eigen_ch1_q").unwrap(), vec![-0.5; 32]);
    assert!(awg.errors().unwrap().is_empty());
}

#[test]
fn values_the_instrument_cannot_play_are_refused_before_sending() {
    let emu = Emulator::new(EmulatedAwg5204::default()).serve_tcp().unwrap();
    let mut awg = connect(&emu);
    let sent = emu.with_state(|s| s.log.len());
    let cases = [
        (2, drag(64, 0.5), Hertz(1e9), "IQ channels 0"),
        (0, drag(64, 1.5), Hertz(1e9), "beyond full scale"),
        (0, drag(64, 0.5), Hertz(5e9), "sample rate"),
        (0, Waveform::Samples(Vec::new()), Hertz(1e9), "0 samples"),
    ];
    for (channel, wave, rate, says) in cases {
        let e = awg.load(channel, &wave, rate).unwrap_err();
        assert_eq!(e.kind(), InstrumentErrorKind::OutOfRange, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    assert_eq!(awg.set_output(7, true).unwrap_err().kind(), InstrumentErrorKind::OutOfRange);
    assert_eq!(emu.with_state(|s| s.log.len()), sent, "nothing was sent");
}

#[test]
fn the_registry_finds_the_awg_by_identity() {
    let emu = Emulator::new(EmulatedAwg5204::default()).serve_tcp().unwrap();
    let mut driver =
        Registry::builtin().open_identified(&emu.resource().unwrap(), TIMEOUT).unwrap();
    assert_eq!(driver.model(), awg::MODEL);
    assert!(driver.as_signal_source().is_none());
    let out = driver.as_waveform_output().expect("an AWG is a waveform output");
    out.load(0, &drag(48, 0.3), Hertz(2.4e9)).unwrap();
    emu.with_state(|s| assert_eq!(s.instrument.waveforms["eigen_ch0_i"].len(), 48));
}
