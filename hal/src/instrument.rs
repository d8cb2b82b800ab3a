//! Capabilities of lab instruments, each a small trait.
//!
//! A driver implements the traits its model has: an AWG implements
//! [`Instrument`] and [`WaveformOutput`], a microwave source [`SignalSource`],
//! and so on. Every method is blocking; drivers own their I/O.

use crate::pulse::Waveform;
use crate::units::{Hertz, Seconds};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// What a caller can do about an [`InstrumentError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InstrumentErrorKind {
    /// The link failed (closed port, refused connection): reconnect.
    Io,
    /// The instrument did not answer in time: retry or power-cycle.
    Timeout,
    /// The instrument answered something we cannot parse.
    Protocol,
    /// The instrument reported an error in its error queue.
    Instrument,
    /// The request is outside what the instrument can do (range, channel).
    OutOfRange,
    /// Anything else.
    Other,
}

/// An error from an instrument driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InstrumentError {
    kind: InstrumentErrorKind,
    message: String,
}

impl InstrumentError {
    /// An error of `kind`.
    pub fn new(kind: InstrumentErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What the caller can do about it.
    #[must_use]
    pub fn kind(&self) -> InstrumentErrorKind {
        self.kind
    }
}

/// The identity an instrument reports (`*IDN?`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Manufacturer.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware: String,
}

/// Every instrument: identify, reset, read its error queue.
pub trait Instrument: Send {
    /// Asks the instrument who it is.
    fn identify(&mut self) -> Result<Identity, InstrumentError>;

    /// Returns the instrument to its power-on state.
    fn reset(&mut self) -> Result<(), InstrumentError>;

    /// Drains the instrument's error queue (empty when all is well).
    fn errors(&mut self) -> Result<Vec<String>, InstrumentError> {
        Ok(Vec::new())
    }
}

/// An arbitrary waveform generator channel.
pub trait WaveformOutput: Instrument {
    /// Loads `waveform` on `channel`, sampled at `sample_rate`.
    fn load(
        &mut self,
        channel: u32,
        waveform: &Waveform,
        sample_rate: Hertz,
    ) -> Result<(), InstrumentError>;

    /// Enables or disables the channel's output.
    fn set_output(&mut self, channel: u32, on: bool) -> Result<(), InstrumentError>;
}

/// A continuous-wave signal source (LO).
pub trait SignalSource: Instrument {
    /// Sets the frequency and power (dBm).
    fn set_tone(&mut self, frequency: Hertz, power_dbm: f64) -> Result<(), InstrumentError>;

    /// Enables or disables the RF output.
    fn set_output(&mut self, on: bool) -> Result<(), InstrumentError>;
}

/// A digitizer that records IQ traces.
pub trait Digitizer: Instrument {
    /// Records `shots` traces of `length` on `channel` and returns the
    /// integrated IQ point of each.
    fn acquire(
        &mut self,
        channel: u32,
        length: Seconds,
        shots: u32,
    ) -> Result<Vec<Complex64>, InstrumentError>;
}

/// A DC voltage source (flux bias).
pub trait DcSource: Instrument {
    /// Sets the voltage on `channel`.
    fn set_voltage(&mut self, channel: u32, volts: f64) -> Result<(), InstrumentError>;
}
