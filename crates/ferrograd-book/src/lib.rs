//! Book examples (under construction).
