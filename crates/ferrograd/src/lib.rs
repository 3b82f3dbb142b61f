//! ferrograd facade (under construction).
