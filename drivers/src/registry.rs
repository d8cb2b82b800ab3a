//! The driver registry: model keys to factories, so configuration names an
//! instrument by model and resource string and gets a driver.

use crate::error::{DriverError, ErrorKind};
use crate::resource::Resource;
use crate::scpi::{ScpiSession, command};
use crate::transport::{self, Transport};
use eigen_hal::instrument::{Identity, Instrument, SignalSource, WaveformOutput};
use std::fmt;
use std::time::Duration;

/// A driver of any model, asked for its capabilities at run time (a lab
/// device is composed from configuration, so which traits an instrument has
/// is only known then).
pub trait InstrumentDriver: Instrument {
    /// The registry key of the driver's model.
    fn model(&self) -> &'static str;

    /// The instrument as a signal source, if it is one.
    fn as_signal_source(&mut self) -> Option<&mut dyn SignalSource> {
        None
    }

    /// The instrument as a waveform generator, if it is one.
    fn as_waveform_output(&mut self) -> Option<&mut dyn WaveformOutput> {
        None
    }
}

/// Opens a driver on an established session.
pub type OpenFn =
    fn(ScpiSession<Box<dyn Transport>>) -> Result<Box<dyn InstrumentDriver>, DriverError>;

/// How to make a driver of one model.
#[derive(Clone, Copy)]
pub struct DriverFactory {
    /// The registry key (`<vendor>_<model>`, the driver's module name).
    pub model: &'static str,
    /// What it drives, for listings.
    pub description: &'static str,
    /// True when a `*IDN?` identity is this model.
    pub matches: fn(&Identity) -> bool,
    /// Makes the driver.
    pub open: OpenFn,
}

impl fmt::Debug for DriverFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverFactory").field("model", &self.model).finish_non_exhaustive()
    }
}

/// Every driver Eigen can build.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    factories: Vec<DriverFactory>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The drivers shipped in this crate.
    #[must_use]
    pub fn builtin() -> Self {
        let mut r = Self::new();
        r.register(crate::rohde_schwarz_sgs100a::factory());
        r.register(crate::tektronix_awg5204::factory());
        r
    }

    /// Adds (or replaces) the factory of `factory.model`.
    pub fn register(&mut self, factory: DriverFactory) {
        self.factories.retain(|f| f.model != factory.model);
        self.factories.push(factory);
    }

    /// The registered model keys.
    pub fn models(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.iter().map(|f| f.model)
    }

    /// Connects to `resource` and opens the driver of `model`.
    pub fn open(
        &self,
        model: &str,
        resource: &str,
        timeout: Duration,
    ) -> Result<Box<dyn InstrumentDriver>, DriverError> {
        let factory = self.factories.iter().find(|f| f.model == model).ok_or_else(|| {
            let known: Vec<_> = self.models().collect();
            DriverError::new(
                ErrorKind::UnknownModel,
                format!("no driver for model {model:?}; known models: {}", known.join(", ")),
            )
        })?;
        (factory.open)(Self::session(resource, timeout)?)
    }

    /// Connects to `resource`, asks the instrument who it is (`*IDN?`) and
    /// opens the matching driver.
    pub fn open_identified(
        &self,
        resource: &str,
        timeout: Duration,
    ) -> Result<Box<dyn InstrumentDriver>, DriverError> {
        let mut session = Self::session(resource, timeout)?;
        let identity = session.send(&command::Idn)?;
        let factory = self.factories.iter().find(|f| (f.matches)(&identity)).ok_or_else(|| {
            DriverError::new(
                ErrorKind::UnknownModel,
                format!(
                    "{resource} is a {} {}, which no registered driver handles; known models: {}",
                    identity.vendor,
                    identity.model,
                    self.models().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        (factory.open)(session)
    }

    fn session(
        resource: &str,
        timeout: Duration,
    ) -> Result<ScpiSession<Box<dyn Transport>>, DriverError> {
        let resource: Resource = resource.parse()?;
        Ok(ScpiSession::new(transport::open(&resource, timeout)?))
    }
}
