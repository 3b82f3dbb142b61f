//! ferrograd-scalar (under construction).
