//! Lab instruments for Eigen: transports, SCPI sessions, drivers, and an
//! emulator to test them against.
//!
//! Drivers implement the capability traits of `eigen_hal::instrument`; this
//! crate knows nothing of jobs, the kernel or the simulator.
//!
//! # Layout
//!
//! - [`error`]: [`DriverError`] and its [`ErrorKind`].
//! - [`resource`]: VISA-style resource strings (`ASRL/dev/ttyUSB0::INSTR`,
//!   `TCPIP0::10.0.0.5::5025::SOCKET`) parsed into a [`Resource`].
//! - [`transport`]: the [`Transport`] trait (blocking byte I/O with
//!   timeouts) over TCP and serial ports.
//! - [`scpi`]: the [`ScpiSession`] (terminators, timeouts, IEEE 488.2 binary
//!   blocks, the error queue) and typed wire commands.
//! - [`registry`]: model keys to driver factories; [`InstrumentDriver`].
//! - [`emulator`]: an instrument emulator speaking SCPI over TCP or a pty.
//! - One module per instrument model: [`rohde_schwarz_sgs100a`] (RF source,
//!   `SignalSource`), [`tektronix_awg5204`] (AWG, `WaveformOutput`).

pub mod emulator;
pub mod error;
pub mod registry;
pub mod resource;
pub mod rohde_schwarz_sgs100a;
pub mod scpi;
pub mod tektronix_awg5204;
pub mod transport;

pub use error::{DriverError, ErrorKind};
pub use registry::{DriverFactory, InstrumentDriver, Registry};
pub use resource::Resource;
pub use scpi::ScpiSession;
pub use transport::Transport;
