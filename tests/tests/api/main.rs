//! Integration tests: the app in-process on port 0 against real Postgres and Redis, one fresh
//! database and Redis prefix per test. One binary, one module per area.

mod admin;
mod agents;
mod auth;
mod caps;
mod errors;
mod faults;
mod health;
mod jobs_store;
mod keys;
mod limits;
mod memory;
mod memory_relevance;
mod messages;
mod openai;
mod privilege;
mod rls;
mod round_trips;
mod run_limits;
mod runs;
mod runs_store;
mod seed_replay;
mod seed_s0;
mod seed_s1;
mod seed_s2;
mod seed_s3;
mod seed_s4;
mod seed_scripts;
mod sessions;
mod skills;
mod tasks;
mod tenant_skills;
mod thinking;
mod tools;
mod views;
mod ws;
