//! The integration tests of `ferrograd-lm` as one test binary, one module per file. A
//! binary per file compiled the stack's generic code and linked it once per file
//! (for `ferrograd-lm`'s 19 files: 138 s, against 33 s as one binary).
//!
//! `train_loss_threads.rs` changes the process-wide thread count, so it stays a binary of
//! its own: no other test sees a thread count it did not choose.

mod bow_replay;
mod classifier;
mod count_lm;
mod count_lm_oracle;
mod decoder_layers;
mod decoder_replay;
mod decoder_train;
mod finetune;
mod generate;
mod gpt2_config_limits;
mod gpt2_reference;
mod lora_reference;
mod rnn_replay;
mod rouge;
mod sampling_reference;
mod train;
mod train_loss;
