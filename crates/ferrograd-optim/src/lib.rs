//! ferrograd-optim (under construction).
