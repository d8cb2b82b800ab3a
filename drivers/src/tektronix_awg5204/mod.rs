//! Tektronix AWG5204: a 4-output arbitrary waveform generator, SCPI over
//! LAN (port 4000 on the instrument, any port on the emulator).
//!
//! Eigen drives complex envelopes, so each HAL channel is an IQ pair of
//! outputs into an IQ mixer: channel 0 plays I on output 1 and Q on output
//! 2, channel 1 plays I on output 3 and Q on output 4. Samples are
//! full-scale-relative: |I|, |Q| <= 1.
//!
//! - [`commands`]: its wire commands.
//! - [`emulated`]: the emulated instrument the tests run against.

pub mod commands;
pub mod emulated;

use crate::error::{DriverError, ErrorKind};
use crate::registry::{DriverFactory, InstrumentDriver};
use crate::scpi::ScpiSession;
use crate::scpi::block;
use crate::scpi::command;
use crate::transport::Transport;
use eigen_hal::instrument::{Identity, Instrument, InstrumentError, WaveformOutput};
use eigen_hal::pulse::Waveform;
use eigen_hal::units::Hertz;

/// The registry key of this driver.
pub const MODEL: &str = "tektronix_awg5204";
/// Physical outputs.
pub const OUTPUTS: u32 = 4;
/// HAL channels (IQ output pairs).
pub const IQ_CHANNELS: u32 = OUTPUTS / 2;
/// The lowest sample rate.
pub const MIN_SAMPLE_RATE: Hertz = Hertz(298.0);
/// The highest sample rate (option 25).
pub const MAX_SAMPLE_RATE: Hertz = Hertz(2.5e9);
/// The longest waveform one transfer carries (4-byte samples in one IEEE
/// 488.2 block).
pub const MAX_SAMPLES: u64 = (block::MAX_LEN / 4) as u64;

/// True when `*IDN?` says this is an AWG5204.
#[must_use]
pub fn matches(identity: &Identity) -> bool {
    identity.vendor.eq_ignore_ascii_case("TEKTRONIX")
        && identity.model.eq_ignore_ascii_case("AWG5204")
}

/// The registry entry of this driver.
#[must_use]
pub fn factory() -> DriverFactory {
    DriverFactory {
        model: MODEL,
        description: "Tektronix AWG5204 arbitrary waveform generator (WaveformOutput, 2 IQ channels)",
        matches,
        open: |session| Ok(Box::new(Awg5204::open(session)?)),
    }
}

/// The outputs (1-based) of HAL channel `channel`: (I, Q).
#[must_use]
pub fn outputs_of(channel: u32) -> (u32, u32) {
    (2 * channel + 1, 2 * channel + 2)
}

/// The waveform-list names the driver uses for `channel`.
fn names_of(channel: u32) -> (String, String) {
    (format!("eigen_ch{channel}_i"), format!("eigen_ch{channel}_q"))
}

fn out_of_range(message: String) -> DriverError {
    DriverError::new(ErrorKind::OutOfRange, message)
}

/// An AWG5204 on a SCPI session.
#[derive(Debug)]
pub struct Awg5204<T: Transport> {
    session: ScpiSession<T>,
    identity: Identity,
}

impl<T: Transport> Awg5204<T> {
    /// Takes over `session` after checking with `*IDN?` that the instrument
    /// is an AWG5204.
    pub fn open(mut session: ScpiSession<T>) -> Result<Self, DriverError> {
        let identity = session.send(&command::Idn)?;
        if !matches(&identity) {
            return Err(DriverError::new(
                ErrorKind::UnknownModel,
                format!(
                    "{} identifies as {} {}, not a Tektronix AWG5204; configure the driver for \
                     that model",
                    session.describe(),
                    identity.vendor,
                    identity.model
                ),
            ));
        }
        Ok(Self { session, identity })
    }

    /// The identity read when the driver opened.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The samples of waveform-list entry `name`.
    pub fn waveform(&mut self, name: &str) -> Result<Vec<f32>, DriverError> {
        self.session.send(&commands::WaveformDataQuery(name.to_owned()))
    }

    /// The sample rate now.
    pub fn sample_rate(&mut self) -> Result<Hertz, DriverError> {
        self.session.send(&commands::SampleRate)
    }

    /// Whether output `output` (1-based) is on.
    pub fn output(&mut self, output: u32) -> Result<bool, DriverError> {
        self.check_output(output)?;
        self.session.send(&commands::Output(output))
    }

    fn check_output(&self, output: u32) -> Result<(), DriverError> {
        if (1..=OUTPUTS).contains(&output) {
            Ok(())
        } else {
            Err(out_of_range(format!("the AWG5204 has outputs 1..={OUTPUTS}, not {output}")))
        }
    }

    fn check_channel(channel: u32) -> Result<(), DriverError> {
        if channel < IQ_CHANNELS {
            Ok(())
        } else {
            Err(out_of_range(format!(
                "the AWG5204 has IQ channels 0 (outputs 1+2) and 1 (outputs 3+4), not {channel}"
            )))
        }
    }

    /// Samples `waveform` into I and Q, refusing values beyond full scale.
    fn sample(waveform: &Waveform) -> Result<(Vec<f32>, Vec<f32>), DriverError> {
        let n = waveform.duration();
        if n == 0 || n > MAX_SAMPLES {
            return Err(out_of_range(format!(
                "a waveform of {n} samples cannot be loaded; the AWG5204 takes 1..={MAX_SAMPLES}"
            )));
        }
        let len = usize::try_from(n).map_err(|_| out_of_range(format!("{n} samples")))?;
        let (mut i, mut q) = (Vec::with_capacity(len), Vec::with_capacity(len));
        for k in 0..n {
            let z = waveform.sample_at(k);
            if !(z.re.abs() <= 1.0 && z.im.abs() <= 1.0) {
                return Err(out_of_range(format!(
                    "sample {k} of the waveform is {z}, beyond full scale (|I|, |Q| <= 1); \
                     lower the pulse amplitude"
                )));
            }
            // Full-scale-relative values lose nothing that matters in f32 (the
            // DAC has 16 bits).
            #[allow(clippy::cast_possible_truncation, reason = "f32 holds 24 bits, the DAC 16")]
            {
                i.push(z.re as f32);
                q.push(z.im as f32);
            }
        }
        Ok((i, q))
    }

    fn load_checked(
        &mut self,
        channel: u32,
        waveform: &Waveform,
        sample_rate: Hertz,
    ) -> Result<(), DriverError> {
        Self::check_channel(channel)?;
        if !(MIN_SAMPLE_RATE.get()..=MAX_SAMPLE_RATE.get()).contains(&sample_rate.get()) {
            return Err(out_of_range(format!(
                "sample rate {sample_rate} is outside the AWG5204's {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE}"
            )));
        }
        let (i, q) = Self::sample(waveform)?;
        let existing = self.session.send(&commands::ListWaveforms)?;
        let (i_out, q_out) = outputs_of(channel);
        let (i_name, q_name) = names_of(channel);
        for (name, samples, output) in [(i_name, i, i_out), (q_name, q, q_out)] {
            if existing.contains(&name) {
                self.session.send(&commands::DeleteWaveform(name.clone()))?;
            }
            self.session
                .send(&commands::NewWaveform { name: name.clone(), size: samples.len() })?;
            self.session.send(&commands::WaveformData { name: name.clone(), samples })?;
            self.session.send(&commands::AssignWaveform { output, name })?;
        }
        self.session.send(&commands::SetSampleRate(sample_rate))?;
        self.session.send(&command::Opc)?;
        self.session.check_errors()
    }

    fn set_output_checked(&mut self, channel: u32, on: bool) -> Result<(), DriverError> {
        Self::check_channel(channel)?;
        let (i_out, q_out) = outputs_of(channel);
        for output in [i_out, q_out] {
            self.session.send(&commands::SetOutput { output, on })?;
        }
        self.session.check_errors()
    }
}

impl<T: Transport> Instrument for Awg5204<T> {
    fn identify(&mut self) -> Result<Identity, InstrumentError> {
        Ok(self.session.send(&command::Idn)?)
    }

    fn reset(&mut self) -> Result<(), InstrumentError> {
        Ok(self.session.reset()?)
    }

    fn errors(&mut self) -> Result<Vec<String>, InstrumentError> {
        Ok(self.session.error_messages()?)
    }
}

impl<T: Transport> WaveformOutput for Awg5204<T> {
    fn load(
        &mut self,
        channel: u32,
        waveform: &Waveform,
        sample_rate: Hertz,
    ) -> Result<(), InstrumentError> {
        Ok(self.load_checked(channel, waveform, sample_rate)?)
    }

    fn set_output(&mut self, channel: u32, on: bool) -> Result<(), InstrumentError> {
        Ok(self.set_output_checked(channel, on)?)
    }
}

impl<T: Transport + 'static> InstrumentDriver for Awg5204<T> {
    fn model(&self) -> &'static str {
        MODEL
    }

    fn as_waveform_output(&mut self) -> Option<&mut dyn WaveformOutput> {
        Some(self)
    }
}
