//! Physical units as newtypes.
//!
//! Every quantity that crosses a crate boundary carries its unit in its type.
//! The inner value is always the SI base unit (seconds, hertz, radians).

use serde::{Deserialize, Serialize};

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub f64);

        impl $name {
            /// The value in the SI base unit.
            #[must_use]
            pub const fn get(self) -> f64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} {}", self.0, $suffix)
            }
        }

        impl std::ops::Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl std::ops::Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl std::ops::Mul<f64> for $name {
            type Output = Self;
            fn mul(self, rhs: f64) -> Self {
                Self(self.0 * rhs)
            }
        }
    };
}

unit!(
    /// A duration in seconds.
    Seconds,
    "s"
);
unit!(
    /// A frequency in hertz.
    Hertz,
    "Hz"
);
unit!(
    /// An angle in radians.
    Radians,
    "rad"
);

impl Seconds {
    /// A duration from nanoseconds.
    #[must_use]
    pub fn from_nanos(ns: f64) -> Self {
        Self(ns * 1e-9)
    }

    /// A duration from microseconds.
    #[must_use]
    pub fn from_micros(us: f64) -> Self {
        Self(us * 1e-6)
    }
}

impl Hertz {
    /// A frequency from gigahertz.
    #[must_use]
    pub fn from_ghz(ghz: f64) -> Self {
        Self(ghz * 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_si() {
        assert!((Seconds::from_nanos(35.0).get() - 35e-9).abs() < 1e-20);
        assert!((Hertz::from_ghz(5.1).get() - 5.1e9).abs() < 1e-3);
        assert_eq!(Seconds(1.0) + Seconds(2.0), Seconds(3.0));
        assert_eq!(Radians(1.0).to_string(), "1 rad");
    }
}
