//! CSV import from the browser: the file is handed to `ledger_exchange::import_payments`
//! (the same library the command line's `import` uses: a dry run of every row with the
//! domain's rules, then submission through the single writer as the signed-in clerk,
//! with command ids derived from the file, so importing it twice applies nothing twice)
//! on a thread of its own. The page then shows a progress bar that reloads itself
//! (`<meta http-equiv="refresh">`, no script) until the import ends, and offers the
//! rejects file when some rows were refused. The ledger's reasons for refusing rows (in
//! the rejects file and on the page) are in the language of the clerk's session.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ledger_domain::UserId;
use ledger_engine::Engine;
use ledger_exchange::{import_payments, ExchangeError, ImportOptions, ImportSummary, Language};
use ledger_store::Backend;

use crate::i18n::Lang;

/// Import jobs kept for their pages; the oldest finished one is forgotten beyond this.
pub const IMPORT_JOBS_MAX: usize = 64;

/// Where an import stands.
#[derive(Debug, Clone)]
pub enum Stage {
    /// Parsing and dry-running every row (no progress figures yet).
    Checking,
    /// Submitting: rows answered of rows to submit.
    Applying { done: u64, total: u64 },
    /// Finished: what was applied.
    Finished(ImportSummary),
    /// Refused or stopped: the error's code and message. Nothing was applied when
    /// `rows_rejected` (all or nothing); an interrupted import applied some rows.
    Failed { code: &'static str, message: String },
}

/// One import started from the web.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// The clerk who started it: the only one who may see it.
    pub owner: String,
    pub file_name: String,
    pub stage: Stage,
    /// The rejects file (CSV with a byte order mark), when some rows were bad.
    pub rejects: Vec<u8>,
}

impl Job {
    pub fn running(&self) -> bool {
        matches!(self.stage, Stage::Checking | Stage::Applying { .. })
    }
}

/// The import jobs of this server.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: Mutex<VecDeque<Job>>,
}

impl Jobs {
    /// The job `id`, if `user` started it.
    pub fn get(&self, id: &str, user: &str) -> Option<Job> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter().find(|j| j.id == id && j.owner == user).cloned()
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = jobs.iter_mut().find(|j| j.id == id) {
            change(job);
        }
    }

    fn insert(&self, job: Job) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        while jobs.len() >= IMPORT_JOBS_MAX {
            match jobs.iter().position(|j| !j.running()) {
                Some(oldest_finished) => {
                    jobs.remove(oldest_finished);
                }
                None => break,
            }
        }
        jobs.push_back(job);
    }

    /// Starts importing `file` as `actor` on a thread of its own, with the ledger's
    /// reasons for refused rows in `lang`; returns the job id.
    pub fn start<B: Backend + 'static>(
        self: &Arc<Self>,
        engine: Arc<Engine<B>>,
        actor: UserId,
        file_name: String,
        file: Vec<u8>,
        skip_bad_rows: bool,
        lang: Lang,
    ) -> std::io::Result<String> {
        let id = crate::session::random_hex()[..24].to_string();
        self.insert(Job {
            id: id.clone(),
            owner: actor.to_string(),
            file_name,
            stage: Stage::Checking,
            rejects: Vec::new(),
        });
        let jobs = Arc::clone(self);
        let job = id.clone();
        std::thread::Builder::new()
            .name("web-import".into())
            .spawn(move || {
                let options = ImportOptions {
                    language: lang.pick(Language::Chinese, Language::English),
                    ..ImportOptions::now(actor, skip_bad_rows)
                };
                let mut rejects = Vec::new();
                let result = import_payments(
                    &engine,
                    &file,
                    &options,
                    &mut rejects,
                    &mut |done, total| {
                        jobs.update(&job, |j| j.stage = Stage::Applying { done, total });
                    },
                );
                jobs.update(&job, move |j| {
                    j.rejects = rejects;
                    j.stage = match result {
                        Ok(summary) => Stage::Finished(summary),
                        Err(e) => Stage::Failed {
                            code: failure_code(&e),
                            message: failure_message(&e, lang),
                        },
                    };
                });
            })?;
        Ok(id)
    }
}

/// What stopped the import, for the page. Refused rows are counted in the session's
/// language (their reasons already are); other failures are the library's English.
fn failure_message(error: &ExchangeError, lang: Lang) -> String {
    match (error, lang) {
        (ExchangeError::RowsRejected { errors }, Lang::Zh) => match errors.first() {
            Some(first) => format!(
                "文件中有 {} 行有误，未记入任何行；第一处：第 {} 行：{}",
                errors.len(),
                first.line,
                first.reason
            ),
            None => error.to_string(),
        },
        _ => error.to_string(),
    }
}

fn failure_code(error: &ExchangeError) -> &'static str {
    match error {
        ExchangeError::Engine(e) => e.code(),
        other => other.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_exchange::RowError;

    #[test]
    fn refused_rows_are_counted_in_the_sessions_language() {
        let error = ExchangeError::RowsRejected {
            errors: vec![
                RowError {
                    line: 3,
                    reason: "没有受助对象 b-999999；请先登记该受助对象".into(),
                },
                RowError {
                    line: 7,
                    reason: "没有资金 SM-NOPE；请先开设该资金".into(),
                },
            ],
        };
        assert_eq!(
            failure_message(&error, Lang::Zh),
            "文件中有 2 行有误，未记入任何行；第一处：第 3 行：没有受助对象 b-999999；请先登记该受助对象"
        );
        assert_eq!(failure_message(&error, Lang::En), error.to_string());
        assert!(failure_message(&error, Lang::En).starts_with("2 of the file's rows are bad"));
    }
}
