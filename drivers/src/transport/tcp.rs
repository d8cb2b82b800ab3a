//! Raw SCPI over TCP (LAN instruments listen on port 5025).

use super::Transport;
use crate::error::{DriverError, ErrorKind};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A TCP connection to an instrument's SCPI socket.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    peer: String,
    timeout: Duration,
}

impl TcpTransport {
    /// Connects to `host:port`, trying each resolved address for at most
    /// `timeout`, which then bounds every read and write.
    pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self, DriverError> {
        let what = format!("TCP {host}:{port}");
        let addrs = (host, port).to_socket_addrs().map_err(|e| {
            DriverError::new(
                ErrorKind::Io,
                format!("{what}: cannot resolve {host:?} ({e}); check the host name"),
            )
        })?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => return Self::from_stream(stream, what, timeout),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => DriverError::io(&what, &e, timeout),
            None => DriverError::new(ErrorKind::Io, format!("{what}: the host has no address")),
        })
    }

    fn from_stream(
        stream: TcpStream,
        peer: String,
        timeout: Duration,
    ) -> Result<Self, DriverError> {
        // SCPI exchanges are small request/reply pairs: send each at once.
        stream.set_nodelay(true).map_err(|e| DriverError::io(&peer, &e, timeout))?;
        let mut this = Self { stream, peer, timeout };
        this.set_timeout(timeout)?;
        Ok(this)
    }
}

impl Transport for TcpTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        self.stream.write_all(bytes).map_err(|e| DriverError::io(&self.peer, &e, self.timeout))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, DriverError> {
        match self.stream.read(buf) {
            Ok(0) => Err(DriverError::new(
                ErrorKind::Io,
                format!("{}: the instrument closed the connection; reconnect", self.peer),
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(DriverError::io(&self.peer, &e, self.timeout)),
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<(), DriverError> {
        if timeout.is_zero() {
            return Err(DriverError::new(ErrorKind::OutOfRange, "a timeout must be above zero"));
        }
        let set = |s: &TcpStream| {
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))
        };
        set(&self.stream).map_err(|e| DriverError::io(&self.peer, &e, timeout))?;
        self.timeout = timeout;
        Ok(())
    }

    fn describe(&self) -> String {
        self.peer.clone()
    }
}
