//! SCPI header matching, as instruments do it: each node in its short form
//! (the upper-case part of the mnemonic) or its long form, any case, with
//! optional nodes in brackets (`[SOURce]:FREQuency[:CW]`).

/// One node of a header pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    short: String,
    long: String,
    optional: bool,
}

/// A compiled header pattern such as `[SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPattern {
    nodes: Vec<Node>,
}

impl HeaderPattern {
    /// Compiles `pattern` (written by emulator authors: an unclosed `[` runs
    /// to the end, and a pattern no header can take simply never matches).
    #[must_use]
    pub fn new(pattern: &str) -> Self {
        let mut nodes = Vec::new();
        let mut rest = pattern.trim_start_matches(':');
        while !rest.is_empty() {
            let (optional, body, tail) = if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').unwrap_or(r.len());
                (true, &r[..end], r.get(end + 1..).unwrap_or(""))
            } else {
                let end = rest.find([':', '[']).unwrap_or(rest.len());
                (false, &rest[..end], &rest[end..])
            };
            let body = body.trim_start_matches(':');
            nodes.push(Node {
                short: body.chars().filter(|c| !c.is_ascii_lowercase()).collect(),
                long: body.to_ascii_uppercase(),
                optional,
            });
            rest = tail.trim_start_matches(':');
        }
        Self { nodes }
    }

    /// True when `header` (without a trailing `?`) names this pattern.
    #[must_use]
    pub fn matches(&self, header: &str) -> bool {
        let header = header.trim_start_matches(':').to_ascii_uppercase();
        let parts: Vec<&str> =
            if header.is_empty() { Vec::new() } else { header.split(':').collect() };
        Self::match_from(&self.nodes, &parts)
    }

    fn match_from(nodes: &[Node], parts: &[&str]) -> bool {
        match (nodes.first(), parts.first()) {
            (None, None) => true,
            (None, Some(_)) => false,
            (Some(node), part) => {
                let here = part.is_some_and(|p| *p == node.short || *p == node.long)
                    && Self::match_from(&nodes[1..], &parts[1..]);
                here || (node.optional && Self::match_from(&nodes[1..], parts))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_optional_nodes() {
        let p = HeaderPattern::new("[SOURce]:FREQuency[:CW]");
        for ok in ["FREQ", "SOUR:FREQ", ":sour:freq:cw", "SOURCE:FREQUENCY:CW", "freq:cw"] {
            assert!(p.matches(ok), "{ok}");
        }
        for bad in ["FRE", "SOUR", "SOUR:FREQ:CW:X", "SOURC:FREQ", "POW", ""] {
            assert!(!p.matches(bad), "{bad}");
        }
        let p = HeaderPattern::new("OUTPut[:STATe]");
        assert!(p.matches("OUTP") && p.matches("outp:stat") && !p.matches("STAT"));
        let p = HeaderPattern::new("SYSTem:ERRor[:NEXT]");
        assert!(p.matches("SYST:ERR") && p.matches("SYST:ERR:NEXT"));
    }
}
