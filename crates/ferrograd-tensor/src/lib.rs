//! ferrograd-tensor (under construction).
