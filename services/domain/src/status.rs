//! Where a run and a job stand: the values of `runs.status` and `jobs.status`, so that code
//! compares enums rather than strings, and each value is spelled in one place.

use std::fmt;

/// A run's status (`runs.status`; S2's poll URL shows it as it is). An outcome that does not
/// say is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RunStatus {
    Processing,
    Completed,
    #[default]
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Processing,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Processing => "processing",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_ended(self) -> bool {
        self != RunStatus::Processing
    }
}

/// A job's status (`jobs.status`). Tasks and agents show `Queued` as `pending` (S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// As tasks and agents show it: S1's `pending` for a job still queued.
    pub fn wire(self) -> &'static str {
        match self {
            JobStatus::Queued => "pending",
            other => other.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A status column holding something else: the database and this code disagree.
#[derive(Debug, thiserror::Error)]
#[error("unknown status `{0}`")]
pub struct UnknownStatus(pub String);

impl TryFrom<String> for RunStatus {
    type Error = UnknownStatus;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RunStatus::parse(&s).ok_or(UnknownStatus(s))
    }
}

impl TryFrom<String> for JobStatus {
    type Error = UnknownStatus;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        JobStatus::parse(&s).ok_or(UnknownStatus(s))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_what_they_print() {
        for s in ["processing", "completed", "failed", "cancelled"] {
            assert_eq!(RunStatus::parse(s).unwrap().as_str(), s);
        }
        for s in ["queued", "running", "completed", "failed", "cancelled"] {
            assert_eq!(JobStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(JobStatus::Queued.wire(), "pending");
        assert!(RunStatus::parse("pending").is_none());
        assert!(JobStatus::try_from("done".to_string()).is_err());
    }
}
