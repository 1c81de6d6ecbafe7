//! A fake OpenAI/Anthropic-compatible upstream for tests, demos and benchmarks. Empty until the
//! runs issue; nothing in the product depends on it.
