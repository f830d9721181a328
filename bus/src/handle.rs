//! [`RedisHandle`]: the one way other crates reach Redis. It runs the
//! library's functions ([`Function`]) and plain commands, with arguments and
//! replies in bus-owned types ([`Arg`], [`Reply`]), so no other crate holds
//! or names a Redis client. Key names come from [`crate::keys`].

use std::sync::Arc;

use bytes::Bytes;
use fred::clients::Client;
use fred::interfaces::{ClientLike, FunctionInterface};
use fred::types::{ClusterHash, CustomCommand, Value};

use crate::BusError;
use crate::functions::{self, Function};

/// One argument of a function or command.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string or binary value.
    Data(Bytes),
    /// An integer.
    Int(i64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Data(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Data(Bytes::from(s))
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::from(s.as_str())
    }
}

impl From<Bytes> for Arg {
    fn from(b: Bytes) -> Arg {
        Arg::Data(b)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Arg {
        Arg::Int(n)
    }
}

impl From<i32> for Arg {
    fn from(n: i32) -> Arg {
        Arg::Int(i64::from(n))
    }
}

impl From<u32> for Arg {
    fn from(n: u32) -> Arg {
        Arg::Int(i64::from(n))
    }
}

impl From<Arg> for Value {
    fn from(a: Arg) -> Value {
        match a {
            Arg::Data(b) => Value::Bytes(b),
            Arg::Int(n) => Value::Integer(n),
        }
    }
}

/// What Redis answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Nil (a missing key or field, an empty blocking read).
    Nil,
    /// An integer.
    Int(i64),
    /// A double (RESP3; RESP2 sends numbers as text).
    Double(f64),
    /// A bulk or simple string.
    Data(Bytes),
    /// An array (RESP3 maps arrive flattened: key, value, key, value, ...).
    Array(Vec<Reply>),
}

impl Reply {
    /// True for nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }

    /// The text of a string reply (not of numbers).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Data(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The bytes of a string reply.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Reply::Data(b) => Some(b),
            _ => None,
        }
    }

    /// An owned copy of the text of a string reply.
    pub fn to_text(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    /// An integer, or text that parses as one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            Reply::Data(_) => self.as_str()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// A non-negative integer, or text that parses as one.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|n| u64::try_from(n).ok())
    }

    /// A number (a sorted set's score arrives as text in RESP2).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Reply::Double(d) => Some(*d),
            Reply::Int(n) => Some(*n as f64),
            Reply::Data(_) => self.as_str()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The items of an array; nil is empty, any other reply one item.
    pub fn into_array(self) -> Vec<Reply> {
        match self {
            Reply::Array(items) => items,
            Reply::Nil => Vec::new(),
            other => vec![other],
        }
    }
}

impl From<Value> for Reply {
    fn from(v: Value) -> Reply {
        match v {
            Value::Null | Value::Queued => Reply::Nil,
            Value::Integer(n) => Reply::Int(n),
            Value::Boolean(b) => Reply::Int(i64::from(b)),
            Value::Double(d) => Reply::Double(d),
            Value::String(s) => Reply::Data(s.into_inner()),
            Value::Bytes(b) => Reply::Data(b),
            Value::Array(items) => Reply::Array(items.into_iter().map(Reply::from).collect()),
            Value::Map(map) => Reply::Array(
                map.inner().into_iter().flat_map(|(k, v)| [Reply::Data(k.into_bytes()), Reply::from(v)]).collect(),
            ),
        }
    }
}

/// A connection to Redis for functions and commands. Cheap to clone; clones
/// share the connection.
#[derive(Clone)]
pub struct RedisHandle {
    client: Client,
    /// Serialises library loads, so a restart seen by many callers at once
    /// loads the library once per burst rather than once per caller.
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl RedisHandle {
    pub(crate) fn new(client: Client) -> RedisHandle {
        RedisHandle { client, loading: Arc::new(tokio::sync::Mutex::new(())) }
    }

    /// Loads (or replaces) the function library.
    pub async fn load_functions(&self) -> Result<(), BusError> {
        let _guard = self.loading.lock().await;
        let _: Value = self.client.function_load(true, functions::library()).await?;
        Ok(())
    }

    /// Runs `function` with `keys` and `args`, loading the library first when
    /// Redis does not know it (after a restart).
    pub async fn call(&self, function: Function, keys: Vec<String>, args: Vec<Arg>) -> Result<Reply, BusError> {
        let values: Vec<Value> = args.into_iter().map(Value::from).collect();
        match self.client.fcall::<Value, _, _, _>(function.name(), keys.clone(), values.clone()).await {
            Err(e) if e.details().contains("Function not found") => {
                tracing::info!(function = function.name(), "redis lost the function library; loading it");
                self.load_functions().await?;
                Ok(self.client.fcall::<Value, _, _, _>(function.name(), keys, values).await?.into())
            }
            other => Ok(other?.into()),
        }
    }

    /// Runs one plain command; its first argument is its key.
    pub async fn cmd(&self, name: &'static str, args: Vec<Arg>) -> Result<Reply, BusError> {
        let values: Vec<Value> = args.into_iter().map(Value::from).collect();
        let command = CustomCommand::new_static(name, ClusterHash::FirstKey, false);
        Ok(self.client.custom::<Value, _>(command, values).await?.into())
    }

    /// A handle on a connection of its own (for blocking reads, which would
    /// otherwise delay every other command on the shared connection).
    pub async fn dedicated(&self) -> Result<RedisHandle, BusError> {
        let client = self.client.clone_new();
        client.init().await?;
        Ok(RedisHandle::new(client))
    }

    /// Whether Redis answers a `PING` within `deadline` (a connected socket
    /// to a stalled Redis is not an answer).
    pub async fn ping(&self, deadline: std::time::Duration) -> bool {
        matches!(tokio::time::timeout(deadline, self.client.ping::<Value>(None)).await, Ok(Ok(_)))
    }

    /// True while the connection is up.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    pub(crate) async fn quit(&self) {
        let _ = self.client.quit().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_numbers_from_text_and_arrays_from_nil() {
        let text = Reply::Data(Bytes::from_static(b"42"));
        assert_eq!(text.as_u64(), Some(42));
        assert_eq!(text.as_f64(), Some(42.0));
        assert_eq!(text.as_str(), Some("42"));
        assert_eq!(Reply::Int(-1).as_u64(), None);
        assert!(Reply::Nil.into_array().is_empty());
        assert_eq!(Reply::Int(3).into_array(), vec![Reply::Int(3)]);
        assert_eq!(Reply::Int(3).as_str(), None);
    }
}
