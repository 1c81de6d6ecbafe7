//! End-to-end tests of the mock over real HTTP, one binary: each module covers one surface.

mod anthropic;
mod binary;
mod helpers;
mod openai;
mod scripting;
