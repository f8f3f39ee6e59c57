//! The dead-letter queue as an operator handles it (`turnover dead`): what each dead letter is
//! (its id, why and from where it died, how often, how old), the copy that replays it, and
//! taking, acking, releasing and purging.
//!
//! A replay must be the request the producer sent, not a new one: the worker derives the
//! `request_id` of a bare record from `message_id`, completes a `POST /predict/batch` from
//! `x-batch-id` and labels the row from `x-source`, so the copy keeps the body, the properties
//! and those headers. It drops what RabbitMQ added on dead-lettering (`x-death`,
//! `x-first-death-*`, `x-last-death-*`, the delivery count), `reply_to` (nobody waits for that
//! reply any more) and `expiration` (RabbitMQ removes it on dead-lettering already; a stale one
//! would only expire the copy).
//!
//! This module never logs a body: dead letters are personal data.

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection};

use super::header_u64;
use crate::wire::{
    DEATH_HEADER, DEATH_HEADERS, ENQUEUED_AT_HEADER, FIRST_DEATH_QUEUE_HEADER,
    FIRST_DEATH_REASON_HEADER,
};

/// One message taken (not yet acked) from the dead-letter queue.
pub struct DeadLetter {
    pub delivery_tag: u64,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl DeadLetter {
    /// The `request_id` the worker gives it: the envelope's, else `message_id`, else the
    /// hash of the body (the worker's rule, docs/contract.md#idempotency).
    pub fn id(&self) -> String {
        let envelope = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("request_id")?.as_str().map(str::to_owned))
            .filter(|id| !id.is_empty());
        envelope
            .or_else(|| {
                self.properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.as_str().to_owned())
                    .filter(|m| !m.is_empty())
            })
            .unwrap_or_else(|| format!("sha256:{}", &crate::digest::sha256_hex(&self.body)[..32]))
    }

    /// Why it died first (`x-first-death-reason`: `delivery_limit`, `rejected`, `expired`, ...).
    pub fn reason(&self) -> Option<String> {
        self.header_text(FIRST_DEATH_REASON_HEADER)
            .or_else(|| self.first_death_field("reason"))
    }

    /// The queue it died in first (`x-first-death-queue`).
    pub fn queue(&self) -> Option<String> {
        self.header_text(FIRST_DEATH_QUEUE_HEADER)
            .or_else(|| self.first_death_field("queue"))
    }

    /// Times it was dead-lettered: the sum of the `count`s of `x-death`.
    pub fn count(&self) -> u64 {
        self.deaths()
            .iter()
            .filter_map(|death| header_u64(Some(death), "count"))
            .sum()
    }

    /// Milliseconds since it was first published (`x-enqueued-at-ms`, else `timestamp`).
    pub fn age_ms(&self, now_ms: u64) -> Option<u64> {
        let headers = self.properties.headers().as_ref();
        header_u64(headers, ENQUEUED_AT_HEADER)
            .or_else(|| self.properties.timestamp().map(|s| s * 1000))
            .map(|at| now_ms.saturating_sub(at))
    }

    /// The properties of the copy that replays it: the original ones and headers, without
    /// those of its death, `reply_to` and `expiration` (see the module's doc).
    pub fn replay_properties(&self) -> BasicProperties {
        let p = &self.properties;
        let mut copy = BasicProperties::default();
        let text = |v: &Option<ShortString>| v.clone();
        if let Some(v) = text(p.content_type()) {
            copy = copy.with_content_type(v);
        }
        if let Some(v) = text(p.content_encoding()) {
            copy = copy.with_content_encoding(v);
        }
        copy = copy.with_delivery_mode(p.delivery_mode().unwrap_or(2));
        if let Some(v) = *p.priority() {
            copy = copy.with_priority(v);
        }
        if let Some(v) = text(p.correlation_id()) {
            copy = copy.with_correlation_id(v);
        }
        if let Some(v) = text(p.message_id()) {
            copy = copy.with_message_id(v);
        }
        if let Some(v) = *p.timestamp() {
            copy = copy.with_timestamp(v);
        }
        if let Some(v) = text(p.kind()) {
            copy = copy.with_type(v);
        }
        if let Some(v) = text(p.app_id()) {
            copy = copy.with_app_id(v);
        }
        let mut headers = FieldTable::default();
        if let Some(original) = p.headers() {
            for (name, value) in original.inner() {
                let death = DEATH_HEADERS.iter().any(|d| {
                    name.as_str() == *d || (d.ends_with('-') && name.as_str().starts_with(d))
                });
                if !death {
                    headers.insert(name.clone(), value.clone());
                }
            }
        }
        copy.with_headers(headers)
    }

    fn header_text(&self, name: &str) -> Option<String> {
        let value = self.properties.headers().as_ref()?.inner().get(name)?;
        text_of(value)
    }

    /// The entries of `x-death`, most recent first.
    fn deaths(&self) -> Vec<FieldTable> {
        let Some(AMQPValue::FieldArray(deaths)) = self
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(DEATH_HEADER))
        else {
            return Vec::new();
        };
        deaths
            .as_slice()
            .iter()
            .filter_map(|d| match d {
                AMQPValue::FieldTable(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// A field of the oldest `x-death` entry (the first death).
    fn first_death_field(&self, name: &str) -> Option<String> {
        self.deaths().last()?.inner().get(name).and_then(text_of)
    }
}

fn text_of(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The dead-letter queue, read one message at a time on a channel of its own. Messages taken
/// and not acked stay with the channel (the next take gives the next one) and go back to the
/// queue, in their places, on [`DeadQueue::release`] or when the channel closes.
pub struct DeadQueue {
    channel: Channel,
    queue: String,
}

impl DeadQueue {
    /// Opens a channel on `queue` and returns the messages it holds now.
    ///
    /// # Errors
    /// When the queue does not exist or the channel cannot be opened.
    pub async fn open(connection: &Connection, queue: &str) -> Result<(Self, u32), lapin::Error> {
        let channel = connection.create_channel().await?;
        let (ready, _) = super::topology::depth(&channel, queue).await?;
        let dead = DeadQueue {
            channel,
            queue: queue.to_owned(),
        };
        Ok((dead, ready))
    }

    /// Takes the next message (unacked), `None` when the queue has no more.
    ///
    /// # Errors
    /// When the channel fails.
    pub async fn take(&self) -> Result<Option<DeadLetter>, lapin::Error> {
        let got = self
            .channel
            .basic_get(
                self.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await?;
        Ok(got.map(|m| DeadLetter {
            delivery_tag: m.delivery.delivery_tag,
            body: m.delivery.data,
            properties: m.delivery.properties,
        }))
    }

    /// Removes a message taken, once its copy is safe.
    ///
    /// # Errors
    /// When the channel fails (the message then goes back to the queue).
    pub async fn ack(&self, letter: &DeadLetter) -> Result<(), lapin::Error> {
        self.channel
            .basic_ack(letter.delivery_tag, BasicAckOptions::default())
            .await
    }

    /// Puts back every message taken and not acked.
    ///
    /// # Errors
    /// When the channel fails (closing it puts them back as well).
    pub async fn release(&self) -> Result<(), lapin::Error> {
        self.channel
            .basic_nack(
                0,
                BasicNackOptions {
                    multiple: true,
                    requeue: true,
                },
            )
            .await
    }

    /// Deletes every message of the queue; returns how many.
    ///
    /// # Errors
    /// When the channel fails.
    pub async fn purge(&self) -> Result<u32, lapin::Error> {
        self.channel
            .queue_purge(self.queue.as_str().into(), QueuePurgeOptions::default())
            .await
    }
}
