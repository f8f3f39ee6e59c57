//! Publishing requests with pipelined publisher confirms: many in flight, never one at a time.
//!
//! Every message is persistent and `mandatory`, so a message the broker cannot route comes back
//! (counted `returned`) instead of vanishing. A publish counts as done only when confirmed.

use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation, Connection, PublisherConfirm};

use super::now_ms;
use crate::wire::{request_properties, Delivery};

/// One request to publish.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub body: Vec<u8>,
    pub message_id: Option<String>,
    /// Relative TTL: the caller gives up after this long.
    pub expiration_ms: Option<u64>,
    /// Extra string headers (e.g. `x-source`, `x-batch-id`), next to the enqueue time.
    pub headers: Vec<(String, String)>,
}

/// What the broker said about a set of publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    pub confirmed: u64,
    pub returned: u64,
    pub nacked: u64,
}

impl PublishReport {
    pub fn all_confirmed(&self, total: u64) -> bool {
        self.confirmed == total && self.returned == 0 && self.nacked == 0
    }
}

/// A channel in confirm mode, publishing to the request exchange.
pub struct Publisher {
    channel: Channel,
    exchange: String,
    routing_key: String,
}

impl Publisher {
    /// Opens a channel in confirm mode.
    ///
    /// # Errors
    /// When the channel cannot be opened.
    pub async fn new(
        connection: &Connection,
        exchange: &str,
        routing_key: &str,
    ) -> Result<Self, lapin::Error> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        })
    }

    /// Closes the channel, once every confirm is in. A channel left open when its connection
    /// closes makes lapin log an ERROR ("invalid channel state: Closing") on a clean run, which
    /// pages anyone alerting on error logs.
    pub async fn close(self) {
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.channel.close(200, "done".into()),
        )
        .await;
    }

    /// Publishes one message; the returned future resolves when the broker confirms it.
    ///
    /// # Errors
    /// When the channel is closed.
    pub async fn send(&self, message: &Outgoing) -> Result<PublisherConfirm, lapin::Error> {
        let headers = message.headers.iter();
        let mut properties = request_properties(
            Delivery::Persistent,
            now_ms(),
            headers.map(|(name, value)| (name.as_str(), value.as_str())),
        );
        if let Some(id) = &message.message_id {
            properties = properties.with_message_id(id.as_str().into());
        }
        if let Some(ms) = message.expiration_ms {
            properties = properties.with_expiration(ms.to_string().into());
        }
        self.channel
            .basic_publish(
                self.exchange.as_str().into(),
                self.routing_key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &message.body,
                properties,
            )
            .await
    }

    /// Publishes every message with at most `in_flight` unconfirmed at once, at most `rate`
    /// per second when given, calling `progress` with the running report after each confirm.
    ///
    /// # Errors
    /// When the channel fails; what was confirmed until then is lost to the caller, who
    /// should treat the run as incomplete (messages may have been published).
    pub async fn publish_all(
        &self,
        messages: impl IntoIterator<Item = Outgoing>,
        in_flight: usize,
        rate: Option<u32>,
        mut progress: impl FnMut(&PublishReport),
    ) -> Result<PublishReport, lapin::Error> {
        let mut report = PublishReport::default();
        let mut pending = FuturesUnordered::new();
        let started = Instant::now();
        for (i, message) in messages.into_iter().enumerate() {
            if let Some(rate) = rate.filter(|r| *r > 0) {
                let due = started + Duration::from_secs_f64(i as f64 / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
            }
            while pending.len() >= in_flight.max(1) {
                if let Some(confirm) = pending.next().await {
                    tally(&mut report, confirm)?;
                    progress(&report);
                }
            }
            pending.push(self.send(&message).await?);
        }
        while let Some(confirm) = pending.next().await {
            tally(&mut report, confirm)?;
            progress(&report);
        }
        Ok(report)
    }
}

fn tally(
    report: &mut PublishReport,
    confirm: Result<Confirmation, lapin::Error>,
) -> Result<(), lapin::Error> {
    let confirmation = confirm?;
    if confirmation.is_nack() {
        report.nacked += 1;
    } else if confirmation.take_message().is_some() {
        report.returned += 1;
    } else {
        report.confirmed += 1;
    }
    Ok(())
}
