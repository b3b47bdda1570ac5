//! Placeholder: filled by the calendar engine work (issue 2).
