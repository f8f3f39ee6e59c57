//! `turnover dead list | replay | purge`: the dead-letter queue (`amqp.dead_letter_queue`)
//! without rabbitmqadmin. `replay` publishes each dead letter again to the request exchange as
//! the producer sent it (`queue::dead`), with publisher confirms, and acks the dead letter only
//! once its copy is confirmed: a replay that stops half-way leaves every message either
//! replayed or still dead, never lost. What is not taken (another `--reason`, past `--limit`)
//! goes back to the queue in its place. Bodies are never printed: they are personal data.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Connection};

use crate::config::{Amqp, Settings};
use crate::queue::dead::{DeadLetter, DeadQueue};
use crate::queue::{self, now_ms};

#[derive(Debug, Args)]
pub struct DeadArgs {
    #[command(subcommand)]
    pub action: DeadAction,
}

#[derive(Debug, Subcommand)]
pub enum DeadAction {
    /// Print each dead letter: id, reason, queue, count, age (left in the queue).
    List(Selection),
    /// Publish dead letters again to the request exchange, then remove them.
    Replay {
        #[command(flatten)]
        selection: Selection,
        /// Print what would be replayed; publish and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete every dead letter.
    Purge {
        /// Required: the messages are gone for good.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct Selection {
    /// At most this many dead letters.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only those whose x-first-death-reason is this (delivery_limit, rejected, expired, ...).
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
}

/// Runs the action; exit 1 when a replay could not be confirmed or `purge` lacks `--yes`.
///
/// # Errors
/// An unreachable broker, a dead-letter queue that does not exist, a channel that fails.
pub fn dead(settings: &Settings, args: DeadArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async {
        let amqp = &settings.amqp;
        let connection = queue::connect_with(amqp, "turnover-dead")
            .await
            .context("cannot connect to RabbitMQ")?;
        let done = run(&connection, amqp, args.action).await;
        queue::close_quietly(&connection, 200, "done").await;
        done
    })
}

async fn run(connection: &Connection, amqp: &Amqp, action: DeadAction) -> anyhow::Result<ExitCode> {
    let name = &amqp.dead_letter_queue;
    let (dead, ready) = DeadQueue::open(connection, name)
        .await
        .with_context(|| format!("cannot open the dead-letter queue {name}"))?;
    match action {
        DeadAction::List(selection) => {
            println!("id\treason\tqueue\tcount\tage");
            let mut walk = Walk::new(&dead, ready, &selection);
            while let Some(letter) = walk.next().await? {
                println!("{}", line(&letter));
            }
            let listed = walk.picked;
            dead.release().await?;
            eprintln!("{listed} dead letter(s) listed, {ready} in {name}");
            Ok(ExitCode::SUCCESS)
        }
        DeadAction::Replay { selection, dry_run } => {
            let publisher = confirming(connection).await?;
            let mut walk = Walk::new(&dead, ready, &selection);
            let replayed: anyhow::Result<usize> = async {
                while let Some(letter) = walk.next().await? {
                    println!("{}", line(&letter));
                    if !dry_run {
                        publish(&publisher, amqp, &letter).await?;
                        dead.ack(&letter).await?;
                    }
                }
                Ok(walk.picked)
            }
            .await;
            // Whatever happened, what was not acked goes back in its place.
            let released = dead.release().await;
            let replayed = replayed?;
            released?;
            if dry_run {
                eprintln!("{replayed} dead letter(s) would be replayed to {} (dry run: nothing published)", amqp.exchange);
            } else {
                eprintln!(
                    "{replayed} dead letter(s) replayed to {} and removed from {name}",
                    amqp.exchange
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        DeadAction::Purge { yes: false } => {
            eprintln!("{ready} dead letter(s) in {name}; nothing deleted: give --yes to delete them for good");
            Ok(ExitCode::FAILURE)
        }
        DeadAction::Purge { yes: true } => {
            let purged = dead.purge().await?;
            eprintln!("{purged} dead letter(s) deleted from {name}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Takes the dead letters present at the start (`ready`: copies replayed meanwhile and dead
/// again are not taken twice), and hands out those the selection picks, up to its limit.
/// Those it does not pick stay taken until the caller releases them.
struct Walk<'a> {
    dead: &'a DeadQueue,
    selection: &'a Selection,
    left: u32,
    picked: usize,
}

impl<'a> Walk<'a> {
    fn new(dead: &'a DeadQueue, ready: u32, selection: &'a Selection) -> Self {
        Walk {
            dead,
            selection,
            left: ready,
            picked: 0,
        }
    }

    async fn next(&mut self) -> anyhow::Result<Option<DeadLetter>> {
        while self.left > 0 && self.picked < self.selection.limit.unwrap_or(usize::MAX) {
            self.left -= 1;
            let Some(letter) = self.dead.take().await? else {
                return Ok(None);
            };
            let wanted = self.selection.reason.as_ref();
            if wanted.is_none_or(|r| letter.reason().as_ref() == Some(r)) {
                self.picked += 1;
                return Ok(Some(letter));
            }
        }
        Ok(None)
    }
}

/// `id  reason  queue  count  age`, tab-separated.
fn line(letter: &DeadLetter) -> String {
    let age = letter
        .age_ms(now_ms())
        .map_or_else(|| "-".to_owned(), |ms| human(ms / 1000));
    format!(
        "{}\t{}\t{}\t{}\t{age}",
        letter.id(),
        letter.reason().as_deref().unwrap_or("-"),
        letter.queue().as_deref().unwrap_or("-"),
        letter.count(),
    )
}

/// `3d4h`, `2h05m`, `4m10s`, `12s`.
fn human(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ => format!("{d}d{h}h"),
    }
}

async fn confirming(connection: &Connection) -> anyhow::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// Publishes the copy of `letter` and waits for the broker to confirm it: a nack or a return
/// (no queue bound to the routing key) is an error, and the dead letter stays.
async fn publish(channel: &Channel, amqp: &Amqp, letter: &DeadLetter) -> anyhow::Result<()> {
    let confirmation = channel
        .basic_publish(
            amqp.exchange.as_str().into(),
            amqp.routing_key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &letter.body,
            letter.replay_properties(),
        )
        .await?
        .await?;
    let id = letter.id();
    anyhow::ensure!(
        !confirmation.is_nack(),
        "the broker refused the copy of {id} (nack); it stays dead"
    );
    anyhow::ensure!(
        confirmation.take_message().is_none(),
        "the copy of {id} was returned: no queue is bound to {} with {}; it stays dead",
        amqp.exchange,
        amqp.routing_key
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(human(12), "12s");
        assert_eq!(human(250), "4m10s");
        assert_eq!(human(7500), "2h05m");
        assert_eq!(human(3 * 86_400 + 4 * 3600 + 59), "3d4h");
    }
}
