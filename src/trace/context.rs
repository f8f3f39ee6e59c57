//! The W3C Trace Context header `traceparent` (https://www.w3.org/TR/trace-context/), parsed
//! and written by hand: the rules are short, and a header that breaks them must start a new
//! trace rather than fail the request or the message (the recommendation's own rule), so the
//! parser only ever says "this is a parent" or "there is none".

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::digest::hex;

/// A caller's trace position, as its `traceparent` (and `tracestate`) said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
    /// The `tracestate` that came with it, when OpenTelemetry accepts it.
    pub tracestate: Option<String>,
}

impl TraceParent {
    /// Parses a `traceparent` value (and its `tracestate`). `None` for anything the
    /// recommendation says to ignore: another length, upper-case hex, an all-zero id, version
    /// `ff`; a future version is read by its first four fields.
    #[must_use]
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let value = traceparent.trim();
        let mut parts = value.split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let rest = parts.next();
        if version.len() != 2 || !is_hex(version) || version == "ff" {
            return None;
        }
        // Version 00 has exactly four fields; a later version may append more.
        if version == "00" && rest.is_some() {
            return None;
        }
        if trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
            return None;
        }
        if !(is_hex(trace) && is_hex(span) && is_hex(flags)) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let span_id = u64::from_str_radix(span, 16).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        let tracestate = tracestate
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.parse::<TraceState>().is_ok())
            .map(str::to_owned);
        Some(TraceParent {
            trace_id: trace_id.to_be_bytes(),
            span_id: span_id.to_be_bytes(),
            sampled: flags & 1 == 1,
            tracestate,
        })
    }

    /// The trace id as stored in `trace_id` columns: 32 lower-case hex digits.
    #[must_use]
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// This position as an OpenTelemetry remote span context, to continue from.
    #[must_use]
    pub fn span_context(&self) -> SpanContext {
        let state = self
            .tracestate
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.span_id),
            if self.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            state,
        )
    }
}

/// The `traceparent` value of a span: version 00, its ids and its sampled flag.
#[must_use]
pub fn format(trace_id: &[u8; 16], span_id: &[u8; 8], sampled: bool) -> String {
    format!(
        "00-{}-{}-{:02x}",
        hex(trace_id),
        hex(span_id),
        u8::from(sampled)
    )
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_well_formed_header_is_continued_with_its_ids_and_flag() {
        let p = TraceParent::parse(GOOD, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(p.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(p.sampled);
        assert_eq!(p.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        assert_eq!(format(&p.trace_id, &p.span_id, p.sampled), GOOD);
        let cx = p.span_context();
        assert!(cx.is_valid() && cx.is_remote() && cx.is_sampled());
    }

    #[test]
    fn a_header_the_recommendation_says_to_ignore_starts_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad, None), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields_and_a_bad_tracestate_is_dropped() {
        let p = TraceParent::parse(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more",
            Some("not a state"),
        )
        .unwrap();
        assert!(!p.sampled);
        assert_eq!(p.tracestate, None);
    }
}
