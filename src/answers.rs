//! Placeholder: filled by the kiosk-server work (issue 3).
