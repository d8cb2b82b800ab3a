//! An instrument emulator speaking SCPI over TCP or a pseudo-terminal, so
//! drivers (and the whole stack) run in CI against "hardware".
//!
//! The [`Emulator`] does the protocol: framing (terminators, binary blocks in
//! either direction), the IEEE 488.2 common commands (`*IDN?`, `*RST`,
//! `*CLS`, `*OPC?`), the error queue (`SYST:ERR?`), and a file store
//! (`MMEM:DATA`). An [`EmulatedInstrument`] per model (beside its driver)
//! does the rest; its state is shared so tests can check what the driver set.
//!
//! - [`header`]: SCPI header matching (short/long forms, optional nodes).
//! - [`wire`]: splitting the byte stream into commands and arguments.

pub mod header;
pub mod wire;

pub use header::HeaderPattern;
pub use wire::{Arg, Request};

use crate::scpi::ErrorEntry;
use crate::scpi::block;
use eigen_hal::instrument::Identity;
use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often connection loops look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// The most errors an emulated queue holds (SCPI: the newest is replaced by
/// `-350,"Queue overflow"`).
const ERROR_QUEUE_LEN: usize = 16;

/// What a handled command sends back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// One line of text (terminator added by the emulator).
    Line(String),
    /// A definite-length binary block.
    Block(Vec<u8>),
}

/// The model-specific part of an emulated instrument.
pub trait EmulatedInstrument: Send + 'static {
    /// What `*IDN?` answers.
    fn identity(&self) -> Identity;

    /// Returns to the power-on state (`*RST`).
    fn reset(&mut self);

    /// Handles one command the emulator does not know. `Ok(None)` for a
    /// setting, `Ok(Some(reply))` for a query, `Err(entry)` to queue a SCPI
    /// error (e.g. `-222,"Data out of range"`); unknown headers should return
    /// [`undefined_header`].
    fn handle(&mut self, request: &Request) -> Result<Option<Reply>, ErrorEntry>;
}

/// The SCPI error for a header the instrument does not know.
#[must_use]
pub fn undefined_header(request: &Request) -> ErrorEntry {
    ErrorEntry { code: -113, message: format!("Undefined header;{}", request.header) }
}

/// The SCPI error for a value out of the instrument's range.
#[must_use]
pub fn out_of_range(what: &str) -> ErrorEntry {
    ErrorEntry { code: -222, message: format!("Data out of range;{what}") }
}

/// The SCPI error for a missing or unparsable parameter.
#[must_use]
pub fn bad_parameter(request: &Request) -> ErrorEntry {
    ErrorEntry { code: -224, message: format!("Illegal parameter value;{}", request.header) }
}

/// The emulator's state: the model, its error queue and its files.
#[derive(Debug)]
pub struct EmulatorState<I> {
    /// The model's state.
    pub instrument: I,
    /// Pending SCPI errors, oldest first.
    pub errors: VecDeque<ErrorEntry>,
    /// Files stored with `MMEM:DATA`.
    pub files: BTreeMap<String, Vec<u8>>,
    /// While true, the emulator reads commands but sends no reply (to test
    /// timeouts).
    pub mute: bool,
    /// Every command received, in order (header and arguments as text).
    pub log: Vec<String>,
}

impl<I: EmulatedInstrument> EmulatorState<I> {
    fn push_error(&mut self, entry: ErrorEntry) {
        if self.errors.len() + 1 >= ERROR_QUEUE_LEN {
            self.errors.truncate(ERROR_QUEUE_LEN - 1);
            self.errors.push_back(ErrorEntry { code: -350, message: "Queue overflow".into() });
        } else {
            self.errors.push_back(entry);
        }
    }

    /// Executes one request; returns the reply to send, if any.
    fn execute(&mut self, request: &Request) -> Option<Reply> {
        self.log.push(request.to_string());
        let result = self.common(request).unwrap_or_else(|| self.instrument.handle(request));
        match result {
            Ok(reply) => reply,
            Err(entry) => {
                self.push_error(entry);
                None
            }
        }
    }

    /// The commands every instrument has; `None` for the model's own.
    fn common(&mut self, request: &Request) -> Option<Result<Option<Reply>, ErrorEntry>> {
        let h = request.header.to_ascii_uppercase();
        let reply = match (h.as_str(), request.query) {
            ("*IDN", true) => {
                let id = self.instrument.identity();
                Ok(Some(Reply::Line(format!(
                    "{},{},{},{}",
                    id.vendor, id.model, id.serial, id.firmware
                ))))
            }
            ("*RST", false) => {
                self.instrument.reset();
                Ok(None)
            }
            ("*CLS", false) => {
                self.errors.clear();
                Ok(None)
            }
            ("*OPC", true) => Ok(Some(Reply::Line("1".into()))),
            _ if request.query && HeaderPattern::new("SYSTem:ERRor[:NEXT]").matches(&h) => {
                let e = self
                    .errors
                    .pop_front()
                    .unwrap_or(ErrorEntry { code: 0, message: "No error".into() });
                Ok(Some(Reply::Line(e.to_string())))
            }
            _ if HeaderPattern::new("MMEMory:DATA").matches(&h) => Ok(self.mmem(request)),
            _ => return None,
        };
        Some(reply)
    }

    fn mmem(&mut self, request: &Request) -> Option<Reply> {
        let name = match request.args.first() {
            Some(Arg::Text(t)) => t.trim_matches(['\'', '"']).to_owned(),
            _ => {
                self.push_error(bad_parameter(request));
                return None;
            }
        };
        if request.query {
            match self.files.get(&name) {
                Some(data) => return Some(Reply::Block(data.clone())),
                None => {
                    self.push_error(ErrorEntry {
                        code: -256,
                        message: format!("File name not found;{name}"),
                    });
                    return None;
                }
            }
        }
        match request.args.get(1) {
            Some(Arg::Block(data)) => {
                self.files.insert(name, data.clone());
            }
            _ => self.push_error(bad_parameter(request)),
        }
        None
    }
}

/// A running emulator: a TCP server on a loopback port (or a
/// pseudo-terminal served by [`Emulator::serve_port`]).
#[derive(Debug)]
pub struct Emulator<I> {
    state: Arc<Mutex<EmulatorState<I>>>,
    stop: Arc<AtomicBool>,
    addr: Option<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
}

fn lock<I>(state: &Mutex<EmulatorState<I>>) -> MutexGuard<'_, EmulatorState<I>> {
    // A panic in another connection's thread leaves consistent data (every
    // update is a single assignment): keep serving.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<I: EmulatedInstrument> Emulator<I> {
    /// An emulator of `instrument`, not yet serving.
    pub fn new(instrument: I) -> Self {
        Self {
            state: Arc::new(Mutex::new(EmulatorState {
                instrument,
                errors: VecDeque::new(),
                files: BTreeMap::new(),
                mute: false,
                log: Vec::new(),
            })),
            stop: Arc::new(AtomicBool::new(false)),
            addr: None,
            threads: Vec::new(),
        }
    }

    /// Starts serving SCPI over TCP on `127.0.0.1` at a free port.
    pub fn serve_tcp(mut self) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        self.addr = Some(listener.local_addr()?);
        let (state, stop) = (Arc::clone(&self.state), Arc::clone(&self.stop));
        self.threads.push(std::thread::spawn(move || accept_loop(&listener, &state, &stop)));
        Ok(self)
    }

    /// Serves SCPI on `port` (e.g. one end of a pseudo-terminal pair) until
    /// the emulator is dropped or the port closes. The port's read timeout
    /// bounds how long stopping takes.
    pub fn serve_port<P: Read + Write + Send + 'static>(&mut self, port: P) {
        let (state, stop) = (Arc::clone(&self.state), Arc::clone(&self.stop));
        self.threads.push(std::thread::spawn(move || serve_connection(port, &state, &stop)));
    }

    /// The TCP address, once serving over TCP.
    #[must_use]
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The VISA resource string of the TCP server, once serving over TCP.
    #[must_use]
    pub fn resource(&self) -> Option<String> {
        self.addr.map(|a| format!("TCPIP0::{}::{}::SOCKET", a.ip(), a.port()))
    }

    /// Runs `f` on the emulator's state (to check or change what a driver
    /// set, mute replies, queue errors).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut EmulatorState<I>) -> R) -> R {
        f(&mut lock(&self.state))
    }
}

impl<I> Drop for Emulator<I> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            // A connection thread that panicked has nothing left to clean up.
            let _ = t.join();
        }
    }
}

fn accept_loop<I: EmulatedInstrument>(
    listener: &TcpListener,
    state: &Arc<Mutex<EmulatorState<I>>>,
    stop: &Arc<AtomicBool>,
) {
    let mut connections = Vec::new();
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(false).is_err()
                    || stream.set_read_timeout(Some(POLL)).is_err()
                {
                    continue;
                }
                let (state, stop) = (Arc::clone(state), Arc::clone(stop));
                connections.push(std::thread::spawn(move || {
                    serve_connection::<I, TcpStream>(stream, &state, &stop);
                }));
            }
            Err(e) if e.kind() == IoKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => {
                tracing::warn!(error = %e, "emulator: accept failed");
                std::thread::sleep(POLL);
            }
        }
    }
    for c in connections {
        let _ = c.join();
    }
}

/// Reads commands from `port` and answers them until EOF, an I/O error or
/// the stop flag.
fn serve_connection<I: EmulatedInstrument, P: Read + Write>(
    mut port: P,
    state: &Mutex<EmulatorState<I>>,
    stop: &AtomicBool,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Acquire) {
        match port.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    IoKind::WouldBlock | IoKind::TimedOut | IoKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        while let Some(message) = wire::take_message(&mut buf) {
            let mut replies = Vec::new();
            {
                let mut state = lock(state);
                match wire::parse_message(&message) {
                    Ok(requests) => {
                        replies.extend(requests.iter().filter_map(|r| state.execute(r)));
                    }
                    Err(entry) => state.push_error(entry),
                }
                if state.mute {
                    replies.clear();
                }
            }
            let out = encode_replies(&replies);
            if !out.is_empty() && (port.write_all(&out).is_err() || port.flush().is_err()) {
                return;
            }
        }
    }
}

/// The response message of one program message: the replies of its queries
/// joined by `;`, then the terminator (IEEE 488.2 §8.4); empty for none.
fn encode_replies(replies: &[Reply]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, reply) in replies.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        match reply {
            Reply::Line(text) => out.extend_from_slice(text.as_bytes()),
            Reply::Block(data) => block::encode(data, &mut out),
        }
    }
    if !replies.is_empty() {
        out.push(b'\n');
    }
    out
}
