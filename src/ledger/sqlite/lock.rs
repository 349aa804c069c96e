//! The SQLite ledger's single-writer lock: an OS file lock on `STATE.lock` beside the
//! database, so a process killed with SIGKILL never leaves a stale lock; the file holds the
//! holder's pid, host and start time for the refusal message.

use std::fs::{OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use chrono::Utc;

use super::SqliteLedger;
use crate::ledger::error::LedgerError;
use crate::ledger::holder::Holder;

impl SqliteLedger {
    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// [`Ledger::try_lock`](crate::ledger::Ledger::try_lock): an OS lock on the lock file,
    /// which holds who has it.
    pub(super) fn try_lock_file(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError> {
        if self.lock.is_some() {
            return Ok(None);
        }
        let path = self.lock_path();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| self.file_error(format!("open lock file {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {
                let holder = Holder {
                    since: Utc::now(),
                    ..holder.clone()
                };
                let text = serde_json::to_string(&holder).unwrap_or_default();
                file.set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| file.write_all(text.as_bytes()))
                    .and_then(|()| file.flush())
                    .map_err(|e| {
                        self.file_error(format!("write lock file {}", path.display()), e)
                    })?;
                self.lock = Some(file);
                Ok(None)
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                match serde_json::from_str::<Holder>(&text) {
                    Ok(holder) => Ok(Some(holder)),
                    Err(_) => Err(LedgerError::LockedUnknown {
                        ledger: self.location.clone(),
                        detail: format!("{} is locked", path.display()),
                    }),
                }
            }
            Err(TryLockError::Error(e)) => {
                Err(self.file_error(format!("lock {}", path.display()), e))
            }
        }
    }
}
