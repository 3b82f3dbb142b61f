//! ferrograd-data (under construction).
