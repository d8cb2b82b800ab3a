//! placeholder

pub mod sim_qasm;
