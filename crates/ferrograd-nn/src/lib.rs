//! ferrograd-nn (under construction).
