//! Injected failures of the token endpoints: the transport and platform hiccups a client must
//! survive (busy, 5xx, bad bodies, slow, hanging and dropped connections).

use super::http::Response;
use super::rng;
use serde_json::{json, Value};
use std::time::Duration;

/// What the next token-endpoint requests get instead of a normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// `{"errcode":-1,"errmsg":"system error ..."}` with HTTP 200.
    Busy,
    /// HTTP 500 with an HTML body.
    Http500,
    /// HTTP 200 whose body is truncated JSON.
    Garbage,
    /// Reads the request and never answers, until the server shuts down or the client leaves.
    Hang,
    /// Closes the connection without answering.
    Drop,
    /// Answers normally after the delay.
    Slow(Duration),
    /// Answers normally, but sends the body one byte per interval.
    Dribble(Duration),
    /// HTTP 200 with this body: a token response with odd content (a NUL in
    /// the token, an errmsg echoing the request...).
    Body(String),
}

impl Fault {
    /// The `mode` spelling of `POST /mock/fault`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Busy => "busy",
            Fault::Http500 => "http500",
            Fault::Garbage => "garbage",
            Fault::Hang => "hang",
            Fault::Drop => "drop",
            Fault::Slow(_) => "slow",
            Fault::Dribble(_) => "dribble",
            Fault::Body(_) => "body",
        }
    }

    /// The canned answer of the faults that have one.
    pub(crate) fn canned(&self) -> Option<Response> {
        match self {
            Fault::Busy => {
                let msg = format!("system error rid: {}", rng::rid());
                Some(Response::json(200, &json!({"errcode": -1, "errmsg": msg})))
            }
            Fault::Http500 => Some(Response::new(
                500,
                "text/html",
                "<html><body><h1>500 Internal Server Error</h1></body></html>\n",
            )),
            Fault::Garbage => Some(Response::new(
                200,
                "application/json; charset=utf-8",
                "{\"access_token\":\"ACCESS_TOK",
            )),
            Fault::Body(body) => Some(Response::new(200, "application/json; charset=utf-8", body)),
            _ => None,
        }
    }

    /// Parses `{"mode":..,"count":N,"delay_ms":N}` into a fault and its count.
    pub(crate) fn from_json(v: &Value) -> Result<(Fault, Option<u64>), String> {
        let mode = v
            .get("mode")
            .and_then(Value::as_str)
            .ok_or("\"mode\" is required")?;
        let count = optional_u64(v, "count")?;
        let fault = match mode {
            "none" => Fault::None,
            "busy" => Fault::Busy,
            "http500" => Fault::Http500,
            "garbage" => Fault::Garbage,
            "hang" => Fault::Hang,
            "drop" => Fault::Drop,
            "slow" => {
                let ms = optional_u64(v, "delay_ms")?.unwrap_or(1000);
                Fault::Slow(Duration::from_millis(ms))
            }
            "dribble" => {
                let ms = optional_u64(v, "delay_ms")?.unwrap_or(1000);
                Fault::Dribble(Duration::from_millis(ms))
            }
            "body" => match v.get("body") {
                Some(Value::String(body)) => Fault::Body(body.clone()),
                _ => return Err("\"body\" (a string) is required".into()),
            },
            other => return Err(format!("unknown mode {other:?}")),
        };
        Ok((fault, count))
    }
}

fn optional_u64(v: &Value, key: &str) -> Result<Option<u64>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("\"{key}\" must be a non-negative integer")),
    }
}

/// The armed fault and how many more requests it applies to (`None` = until changed).
pub(crate) struct FaultSlot {
    fault: Fault,
    remaining: Option<u64>,
}

impl Default for FaultSlot {
    fn default() -> Self {
        FaultSlot {
            fault: Fault::None,
            remaining: None,
        }
    }
}

impl FaultSlot {
    pub(crate) fn set(&mut self, fault: Fault, count: Option<u64>) {
        *self = FaultSlot {
            fault,
            remaining: count,
        };
        self.disarm_if_spent();
    }

    /// The fault for one token request, using up one of its count.
    pub(crate) fn take(&mut self) -> Fault {
        let fault = self.fault.clone();
        if let Some(n) = self.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
        self.disarm_if_spent();
        fault
    }

    fn disarm_if_spent(&mut self) {
        if self.remaining == Some(0) {
            *self = FaultSlot::default();
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({"mode": self.fault.name(), "remaining": self.remaining});
        if let Fault::Slow(d) | Fault::Dribble(d) = self.fault {
            v["delay_ms"] = json!(d.as_millis() as u64);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_fault_expires() {
        let mut slot = FaultSlot::default();
        slot.set(Fault::Busy, Some(2));
        assert_eq!(slot.take(), Fault::Busy);
        assert_eq!(slot.take(), Fault::Busy);
        assert_eq!(slot.take(), Fault::None);
        slot.set(Fault::Drop, None);
        for _ in 0..5 {
            assert_eq!(slot.take(), Fault::Drop);
        }
        slot.set(Fault::Hang, Some(0));
        assert_eq!(slot.take(), Fault::None);
    }

    #[test]
    fn parses_admin_json() {
        let (f, n) = Fault::from_json(&json!({"mode":"slow","delay_ms":250,"count":3})).unwrap();
        assert_eq!((f, n), (Fault::Slow(Duration::from_millis(250)), Some(3)));
        assert_eq!(Fault::from_json(&json!({"mode":"drop"})).unwrap().1, None);
        assert!(Fault::from_json(&json!({"mode":"explode"})).is_err());
        assert!(Fault::from_json(&json!({"count":1})).is_err());
        assert!(Fault::from_json(&json!({"mode":"busy","count":-1})).is_err());
        let (f, _) = Fault::from_json(&json!({"mode":"dribble","delay_ms":50})).unwrap();
        assert_eq!(f, Fault::Dribble(Duration::from_millis(50)));
        let (f, _) = Fault::from_json(&json!({"mode":"body","body":"{}"})).unwrap();
        assert_eq!(f, Fault::Body("{}".into()));
        assert!(Fault::from_json(&json!({"mode":"body"})).is_err());
    }
}
