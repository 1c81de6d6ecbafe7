//! `make bench` (memory part): `POST /v1/memory/search` through a real `openclaw serve` over
//! 100 000 memories of one tenant among 1 000 000 — the search's plan (it must use the GIN index)
//! and its latency. The dataset is generated once into its own database and reused.

use std::collections::HashSet;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openclaw_domain::memory::{document_terms, query_terms};
use openclaw_domain::TenantId;
use openclaw_store::{MemoryFilter, Store};
use openclaw_tests::fresh_prefix;
use openclaw_tests::load::env_or;
use openclaw_tests::process::{openclaw, openclaw_bin, spawn_gateway};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// The bench's own database on the server `DATABASE_URL` names, kept between runs: loading it
/// takes minutes.
const DATABASE: &str = "openclaw_bench_memory";
/// Bump whenever the generator or the dataset's shape changes: a stored dataset of another
/// version is dropped and loaded anew.
const DATASET_VERSION: i32 = 1;
/// Ten tenants at Pro's cap (100 000 memories, tier.rs), the first one measured. How the other
/// 900 000 are split hardly matters to the measured query — a term's postings in the GIN index
/// hold every tenant's rows whichever way they are split — so each tenant is one at a real cap.
const TENANTS: usize = 10;
const PER_TENANT: usize = 100_000;
const SEED: u64 = 0x0C1A_3E30_2026_0005;
const BATCH: usize = 5_000;
/// Separates a row's tags and terms in the one string each is sent as (unnest cannot take a
/// ragged 2-D array); no tag or index term contains it.
const SEP: &str = "\u{1f}";
/// Candidates the search asks the store for, as the engine does.
const POOL: i64 = openclaw_engine::memory::SEARCH_POOL;
const LIMIT: usize = 10;
/// The figures' share of Chinese memories and queries (the rest English).
const CHINESE: f64 = 0.4;

/// SplitMix64: tiny and fully specified, so the dataset stays the same across dependency
/// versions (a stored dataset is only reused if it is exactly what this generator makes).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Words drawn with Zipf–Mandelbrot frequencies, p(rank k) ∝ 1/(k + 2.7) (the classic fit for
/// natural text): a few words are in a large share of memories, most are rare.
struct Zipf {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(words: Vec<String>) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0 + 2.7);
                total
            })
            .collect();
        Zipf { words, cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> &str {
        let u = rng.unit() * self.cumulative.last().copied().unwrap_or(0.0);
        let i = self.cumulative.partition_point(|&c| c <= u);
        &self.words[i.min(self.words.len() - 1)]
    }
}

/// Content words of English assistant memories, most frequent first (stop words are left to
/// the filler below: the index drops them).
const ENGLISH: &str = "user prefers project meeting team work time week morning email code call \
    deadline likes wants uses needs name friday monday report review coffee office home family \
    trip flight hotel weekend dinner lunch birthday wife husband daughter son mother father \
    manager client customer budget plan goal task reminder notes document file folder \
    repository branch release deploy server database config settings password account login \
    api key token python rust javascript typescript docker kubernetes linux macos windows \
    editor vim vscode terminal shell script test bug issue feature design draft slides \
    presentation spreadsheet invoice payment bank salary tax insurance doctor appointment \
    dentist gym running yoga diet vegetarian allergic peanuts gluten tea wine beer restaurant \
    italian japanese chinese mexican pizza sushi ramen breakfast recipe cooking book novel \
    podcast music jazz guitar piano movie series game chess football basketball tennis cycling \
    hiking camping beach mountain city berlin london paris tokyo shanghai beijing seattle \
    singapore sydney toronto timezone utc language english german french spanish mandarin \
    translation dark mode theme font short answers detailed concise formal casual tone bullet \
    points markdown summary format style spelling british american metric units celsius \
    currency euro dollar yuan phone number address street apartment car bike train bus commute \
    parking dog cat pet vet garden plants kitchen laundry cleaning groceries shopping amazon \
    order delivery package return subscription netflix spotify slack zoom calendar schedule \
    standup sprint retro roadmap quarter okr metrics dashboard analytics sales marketing launch \
    product startup company job interview resume promotion vacation holiday christmas \
    anniversary gift party wedding school homework teacher exam university course lecture \
    thesis paper research experiment data model training dataset gpu cloud aws gcp azure bucket \
    backup storage laptop monitor keyboard mouse headphones printer wifi router network vpn \
    security privacy encryption ssh git github gitlab pull request merge commit pipeline build \
    error crash log latency performance memory cpu disk cache queue worker cron backend \
    frontend mobile ios android app website domain dns newsletter blog post article twitter \
    linkedin contact colleague neighbor friend brother sister grandmother kids baby nanny pickup \
    soccer practice lesson swimming medication vitamins sleep bedtime alarm wake early late \
    quiet noise light temperature heating electricity rent mortgage loan savings investment \
    stocks crypto retirement pension lawyer contract agreement signature approval feedback \
    agenda minutes follow action items priority urgent blocked pending done weekly monthly \
    daily tuesday wednesday thursday saturday sunday january february march april june july \
    august september october november december spring summer autumn winter rain weather \
    umbrella jacket shoes size color blue green red black white favorite hates dislikes avoid \
    never always usually sometimes prefer remember mentioned asked said planning moving \
    learning reading writing watching visiting traveling working building fixing migrating \
    upgrading version postgres redis kafka nginx terraform grafana prometheus sentry jira \
    notion figma excel pdf csv json yaml sql graphql grpc websocket oauth jwt sso openclaw \
    agent assistant prompt chat session conversation context tokens openai anthropic claude \
    gpt llm embedding vector search index";

/// Words written between the content words so memories read like sentences (dropped by the
/// index as stop words, kept in the content a phrase match reads).
const FILLER: &[&str] = &[
    "the", "a", "to", "and", "of", "in", "for", "with", "on", "is", "that", "at", "by", "from",
    "should", "when", "their", "it", "not", "before", "after",
];

/// Chinese words and phrases of assistant memories, most frequent first.
const CHINESE_WORDS: &str =
    "用户 喜欢 项目 会议 工作 时间 周末 早上 晚上 邮件 代码 电话 截止 日期 \
    需要 希望 名字 周五 周一 报告 咖啡 办公室 家里 家人 旅行 航班 酒店 晚饭 午饭 生日 妻子 丈夫 \
    女儿 儿子 妈妈 爸爸 经理 客户 预算 计划 目标 任务 提醒 笔记 文档 文件 仓库 分支 发布 部署 \
    服务器 数据库 配置 设置 密码 账号 登录 接口 密钥 测试 问题 功能 设计 草稿 幻灯片 表格 发票 \
    付款 银行 工资 税 保险 医生 预约 牙医 健身 跑步 瑜伽 饮食 素食 过敏 花生 茶 红酒 啤酒 餐厅 \
    火锅 川菜 粤菜 面条 饺子 包子 早餐 菜谱 做饭 书 小说 播客 音乐 吉他 钢琴 电影 电视剧 游戏 \
    围棋 足球 篮球 网球 骑行 爬山 露营 海边 城市 北京 上海 深圳 广州 杭州 成都 南京 武汉 西安 \
    香港 台北 东京 伦敦 纽约 时区 语言 中文 英文 日语 翻译 深色 模式 主题 字体 简洁 详细 正式 \
    语气 要点 总结 格式 风格 单位 人民币 美元 手机 号码 地址 小区 公寓 汽车 自行车 地铁 高铁 \
    公交 通勤 停车 狗 猫 宠物 花园 植物 厨房 洗衣 打扫 超市 购物 淘宝 京东 外卖 快递 订单 退货 \
    会员 微信 钉钉 飞书 日历 日程 站会 迭代 复盘 路线图 季度 指标 看板 数据 销售 市场 上线 产品 \
    创业 公司 面试 简历 升职 假期 春节 中秋 国庆 纪念日 礼物 聚会 婚礼 学校 作业 老师 考试 大学 \
    课程 论文 研究 实验 模型 训练 数据集 显卡 云 备份 存储 笔记本 显示器 键盘 鼠标 耳机 打印机 \
    网络 路由器 安全 隐私 加密 日志 延迟 性能 内存 缓存 队列 定时 后端 前端 移动端 应用 网站 \
    域名 公众号 文章 微博 联系人 同事 邻居 朋友 哥哥 姐姐 弟弟 妹妹 奶奶 爷爷 孩子 宝宝 阿姨 \
    接送 练习 游泳 药 维生素 睡眠 闹钟 起床 安静 温度 暖气 电费 房租 房贷 贷款 存款 投资 股票 \
    基金 退休 律师 合同 签字 审批 反馈 议程 纪要 跟进 优先级 紧急 阻塞 完成 每周 每月 每天 周二 \
    周三 周四 周六 周日 春天 夏天 秋天 冬天 下雨 天气 雨伞 外套 鞋子 尺码 颜色 蓝色 绿色 红色 \
    黑色 白色 最喜欢 讨厌 避免 总是 通常 有时 记得 提到 搬家 学习 阅读 写作 出差 修复 迁移 升级 \
    版本 智能体 助手 提示词 对话 会话 上下文 向量 搜索 索引 记忆 长期 短期 偏好 回复";

/// Particles between Chinese words (indexed like any character: Chinese has no stop list).
const PARTICLES: &[&str] = &["的", "了", "在", "是", "和", "要", "把", "也", "都", "很"];
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂婷浩宇轩晨欣怡博";
const TAGS: &[&str] = &[
    "work",
    "personal",
    "preference",
    "project",
    "travel",
    "health",
    "family",
    "finance",
    "coding",
    "schedule",
    "food",
    "contact",
    "shopping",
    "learning",
    "home",
    "工作",
    "家庭",
    "偏好",
];

/// English and Chinese vocabularies: the real words first, then a long tail of names (people,
/// products, places), which is what real memories' rare words mostly are.
struct Vocabulary {
    english: Zipf,
    chinese: Zipf,
}

impl Vocabulary {
    fn new() -> Vocabulary {
        let mut rng = Rng(SEED ^ 0x5EED);
        let mut seen = HashSet::new();
        let mut english: Vec<String> = ENGLISH
            .split_whitespace()
            .filter(|w| seen.insert(w.to_string()))
            .map(str::to_string)
            .collect();
        let onsets = [
            "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
            "z", "br", "ch", "cl", "dr", "gr", "kr", "pl", "sh", "st", "th", "tr",
        ];
        let vowels = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"];
        let codas = ["", "", "n", "r", "l", "s", "x", "m", "nd", "rt"];
        while english.len() < 3_000 {
            let mut name = String::new();
            for _ in 0..rng.range(2, 3) {
                name.push_str(rng.pick(&onsets));
                name.push_str(rng.pick(&vowels));
                name.push_str(rng.pick(&codas));
            }
            if seen.insert(name.clone()) {
                let mut chars = name.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase());
                english.push(first.into_iter().chain(chars).collect());
            }
        }
        let mut chinese: Vec<String> = CHINESE_WORDS
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut names: Vec<String> = SURNAMES
            .chars()
            .flat_map(|s| GIVEN.chars().map(move |g| format!("{s}{g}")))
            .collect();
        for i in (1..names.len()).rev() {
            names.swap(i, rng.below(i + 1));
        }
        chinese.extend(names);
        Vocabulary {
            english: Zipf::new(english),
            chinese: Zipf::new(chinese),
        }
    }

    fn english_memory(&self, rng: &mut Rng) -> String {
        let n = rng.range(8, 40);
        let mut words: Vec<String> = match rng.below(6) {
            0 | 1 => vec!["The".into(), "user".into()],
            2 => vec!["Remember:".into()],
            3 => vec!["Note:".into()],
            _ => Vec::new(),
        };
        while words.len() < n {
            let word = if rng.chance(0.3) {
                rng.pick(FILLER).to_string()
            } else if rng.chance(0.03) {
                rng.range(1, 2030).to_string()
            } else {
                self.english.sample(rng).to_string()
            };
            words.push(word);
            if rng.chance(0.06) && words.len() < n {
                if let Some(last) = words.last_mut() {
                    last.push(',');
                }
            }
        }
        let mut text = words.join(" ");
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text.push('.');
        text
    }

    fn chinese_memory(&self, rng: &mut Rng) -> String {
        let n = rng.range(8, 40);
        let mut text = String::new();
        match rng.below(5) {
            0 | 1 => text.push_str("用户"),
            2 => text.push_str("记住："),
            3 => text.push_str("备注："),
            _ => {}
        }
        for i in 0..n {
            if rng.chance(0.03) {
                // Product names and code words stay Latin in Chinese text.
                text.push(' ');
                text.push_str(self.english.sample(rng));
                text.push(' ');
            } else {
                text.push_str(self.chinese.sample(rng));
            }
            if rng.chance(0.25) {
                text.push_str(rng.pick(PARTICLES));
            }
            if i + 1 < n && rng.chance(0.12) {
                text.push('，');
            }
        }
        text.push('。');
        text
    }

    /// What someone would type to recall a memory: 1–4 words drawn like the memories' own.
    fn query(&self, rng: &mut Rng) -> String {
        let n = rng.range(1, 4);
        if rng.chance(CHINESE) {
            let words: Vec<&str> = (0..n).map(|_| self.chinese.sample(rng)).collect();
            // Mostly written as one run, as Chinese is; sometimes spaced like keywords.
            words.join(if rng.chance(0.7) { "" } else { " " })
        } else {
            let words: Vec<&str> = (0..n).map(|_| self.english.sample(rng)).collect();
            words.join(" ")
        }
    }
}

/// One batch of rows as the columns `INSERT … SELECT FROM unnest(…)` takes.
#[derive(Default)]
struct Batch {
    tenant: Vec<Uuid>,
    id: Vec<Uuid>,
    content: Vec<String>,
    tags: Vec<String>,
    kind: Vec<&'static str>,
    terms: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
}

/// Row `i` of the dataset. Rows come in time order with the tenants taking turns, so each
/// tenant's memories are spread over the whole heap as tenants writing side by side leave them
/// (a tenant's rows packed together would flatter every query).
fn generate(
    vocab: &Vocabulary,
    rng: &mut Rng,
    tenants: &[Uuid],
    i: usize,
    start: DateTime<Utc>,
    batch: &mut Batch,
) {
    let total = (TENANTS * PER_TENANT) as i64;
    let span = chrono::Duration::days(90).num_milliseconds();
    let created_at = start + chrono::Duration::milliseconds(span * i as i64 / total);
    let content = if rng.chance(CHINESE) {
        vocab.chinese_memory(rng)
    } else {
        vocab.english_memory(rng)
    };
    let mut tags: Vec<&str> = Vec::new();
    for _ in 0..rng.range(0, 3) {
        let tag = rng.pick(TAGS);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let mut random = [0u8; 10];
    for b in &mut random {
        *b = rng.next() as u8;
    }
    batch.tenant.push(tenants[i % TENANTS]);
    batch.id.push(
        uuid::Builder::from_unix_timestamp_millis(created_at.timestamp_millis() as u64, &random)
            .into_uuid(),
    );
    batch.terms.push(document_terms(&content).join(SEP));
    batch.content.push(content);
    batch.tags.push(tags.join(SEP));
    batch.kind.push(if rng.chance(0.25) {
        "short-term"
    } else {
        "long-term"
    });
    batch.created_at.push(created_at);
}

/// `url` with its database replaced by `name` (its query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (main, query) = url.split_once('?').unwrap_or((url, ""));
    let after_scheme = main.find("://").map_or(0, |i| i + 3);
    let server = match main[after_scheme..].find('/') {
        Some(i) => &main[..after_scheme + i],
        None => main,
    };
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

/// `openclaw ARGS` as a JSON-printing CLI call, returning the `field` of its output.
fn cli_field(args: &[&str], env: &[(&str, &str)], field: &str) -> anyhow::Result<String> {
    let out = openclaw(args, env);
    let v: Value = serde_json::from_slice(&out.stdout)?;
    v[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("`openclaw {args:?}` printed no {field}"))
}

/// The stored dataset's measured tenant, if the database holds a complete dataset of this
/// version whose schema still migrates (a changed migration makes it stale) and whose rows are
/// all still there and live.
async fn stored_dataset(db_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Option<Uuid>> {
    let Ok(mut conn) = PgConnection::connect(db_url).await else {
        return Ok(None);
    };
    let meta: Option<(i32, i64, Uuid)> =
        sqlx::query_as("SELECT version, rows, measured_tenant FROM bench_memory_meta")
            .fetch_optional(&mut conn)
            .await
            // No such table: no complete dataset.
            .unwrap_or(None);
    let Some((version, rows, tenant)) = meta else {
        return Ok(None);
    };
    if version != DATASET_VERSION {
        return Ok(None);
    }
    let migrated = Command::new(openclaw_bin())
        .arg("migrate")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success();
    if !migrated {
        return Ok(None);
    }
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memories WHERE expires_at IS NULL OR expires_at > now()",
    )
    .fetch_one(&mut conn)
    .await?;
    let indexed: bool = sqlx::query_scalar("SELECT to_regclass('memories_search') IS NOT NULL")
        .fetch_one(&mut conn)
        .await?;
    Ok((live == rows && indexed).then_some(tenant))
}

/// Drops and recreates the bench database, migrates it and loads the dataset; returns the
/// measured tenant.
async fn load(server_url: &str, db_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Uuid> {
    let started = Instant::now();
    let mut admin = PgConnection::connect(&with_database(server_url, "postgres")).await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{DATABASE}\" WITH (FORCE)").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE \"{DATABASE}\"").as_str())
        .await?;
    admin.close().await?;
    openclaw(&["migrate"], env);
    let mut tenants = Vec::with_capacity(TENANTS);
    for t in 0..TENANTS {
        let name = if t == 0 {
            "bench-memory measured".to_string()
        } else {
            format!("bench-memory other {t}")
        };
        let id = cli_field(
            &["tenant", "create", "--name", &name, "--tier", "pro"],
            env,
            "id",
        )?;
        let id: TenantId = id
            .parse()
            .map_err(|_| anyhow::anyhow!("tenant id {id:?}"))?;
        tenants.push(id.as_uuid());
    }

    let mut conn = PgConnection::connect(db_url).await?;
    conn.execute("SET synchronous_commit = off").await?;
    // Rows go in far faster without the GIN index kept up to date; it is built once at the end,
    // from the definition the migration gave it.
    let index_def: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexname = 'memories_search'",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.execute("DROP INDEX memories_search").await?;

    // Generation (stemming above all) on one core while Postgres inserts on the other.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(4);
    let generator = {
        let tenants = tenants.clone();
        let start = Utc::now() - chrono::Duration::days(90);
        tokio::task::spawn_blocking(move || {
            let vocab = Vocabulary::new();
            let mut rng = Rng(SEED);
            let mut batch = Batch::default();
            for i in 0..TENANTS * PER_TENANT {
                generate(&vocab, &mut rng, &tenants, i, start, &mut batch);
                if batch.id.len() == BATCH && tx.blocking_send(std::mem::take(&mut batch)).is_err()
                {
                    return;
                }
            }
            if !batch.id.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        })
    };
    let mut loaded = 0usize;
    while let Some(b) = rx.recv().await {
        // Short-term memories expire 180 days after they were written: all stay live for 90
        // days after a load, and a dataset whose rows have started to expire is loaded anew.
        sqlx::query(
            "INSERT INTO memories (tenant_id, id, content, tags, kind, tier, source, terms, \
             created_at, updated_at, expires_at) \
             SELECT t, i, c, string_to_array(g, chr(31)), k, 'wal', 'api', \
                    string_to_array(r, chr(31)), at, at, \
                    CASE WHEN k = 'short-term' THEN at + interval '180 days' END \
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::timestamptz[]) AS u(t, i, c, g, k, r, at)",
        )
        .bind(&b.tenant)
        .bind(&b.id)
        .bind(&b.content)
        .bind(&b.tags)
        .bind(&b.kind)
        .bind(&b.terms)
        .bind(&b.created_at)
        .execute(&mut conn)
        .await?;
        loaded += b.id.len();
        if loaded % 100_000 == 0 {
            eprint!("\rloading memories: {loaded} of {}", TENANTS * PER_TENANT);
        }
    }
    eprintln!();
    generator.await?;
    let inserted = started.elapsed();

    conn.execute("SET maintenance_work_mem = '1GB'").await?;
    conn.execute(index_def.as_str()).await?;
    let indexed = started.elapsed();
    // What autovacuum would have done to a table written over 90 days: statistics for the
    // planner, hint bits and the visibility map set.
    sqlx::raw_sql("VACUUM (ANALYZE) memories")
        .execute(&mut conn)
        .await?;
    conn.execute(
        "CREATE TABLE bench_memory_meta (version int NOT NULL, rows bigint NOT NULL, \
         measured_tenant uuid NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    // Written last: a load that stops half-way leaves no marker and is redone.
    sqlx::query(
        "INSERT INTO bench_memory_meta (version, rows, measured_tenant) VALUES ($1, $2, $3)",
    )
    .bind(DATASET_VERSION)
    .bind(loaded as i64)
    .bind(tenants[0])
    .execute(&mut conn)
    .await?;
    let done = started.elapsed();
    println!(
        "dataset loaded in {:.0} s: database made and {loaded} memories generated and inserted \
         {:.0} s, GIN index built {:.0} s, VACUUM ANALYZE {:.0} s (kept in database {DATABASE}, \
         reused next time)",
        done.as_secs_f64(),
        inserted.as_secs_f64(),
        (indexed - inserted).as_secs_f64(),
        (done - indexed).as_secs_f64(),
    );
    Ok(tenants[0])
}

/// What one query's plan shows: which indexes read `memories` (and whether anything read it
/// whole), the buffers it touched and the time Postgres took.
struct Plan {
    lines: Vec<String>,
    /// Index name and how many plan nodes scan it.
    indexes: Vec<(String, usize)>,
    seq_scan: bool,
    buffers: String,
    execution: String,
}

impl Plan {
    fn of(lines: Vec<String>) -> Plan {
        let mut indexes: Vec<(String, usize)> = Vec::new();
        for line in &lines {
            let name = match line.split_once("Bitmap Index Scan on ") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None if line.contains("Index") => line
                    .split_once(" using ")
                    .and_then(|(_, rest)| rest.split_whitespace().next()),
                None => None,
            };
            if let Some(name) = name.filter(|n| n.starts_with("memories")) {
                match indexes.iter_mut().find(|(n, _)| n == name) {
                    Some((_, count)) => *count += 1,
                    None => indexes.push((name.to_string(), 1)),
                }
            }
        }
        let find = |prefix: &str| {
            lines
                .iter()
                .find_map(|l| l.trim().strip_prefix(prefix))
                .unwrap_or("?")
                .to_string()
        };
        Plan {
            seq_scan: lines.iter().any(|l| l.contains("Seq Scan on memories ")),
            indexes,
            buffers: find("Buffers: "),
            execution: find("Execution Time: "),
            lines,
        }
    }

    fn uses(&self, index: &str) -> bool {
        self.indexes.iter().any(|(n, _)| n == index)
    }

    /// The plan's nodes, without their detail lines (conditions, buffers, sort keys).
    fn nodes(&self) -> impl Iterator<Item = &String> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                *i == 0
                    || l.contains("->")
                    || l.trim_start().starts_with("SubPlan")
                    || l.contains(" Time: ")
            })
            .map(|(_, l)| l)
    }
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the search for `query`, exactly as the store runs it.
async fn explain(store: &Store, tenant: Uuid, query: &str) -> anyhow::Result<Plan> {
    let lines = store
        .explain_search(
            TenantId(tenant),
            &query_terms(query),
            &MemoryFilter::default(),
            POOL,
        )
        .await?;
    Ok(Plan::of(lines))
}

/// One search over HTTP: its latency (to the body read) and how many results it gave.
async fn search(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    query: &str,
) -> anyhow::Result<(Duration, usize)> {
    let sent = Instant::now();
    let resp = client
        .post(format!("{base}/v1/memory/search"))
        .bearer_auth(key)
        .json(&json!({"query": query, "limit": LIMIT}))
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    let took = sent.elapsed();
    anyhow::ensure!(
        status == 200,
        "search for {query:?} answered {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    let v: Value = serde_json::from_slice(&body)?;
    let results = v["results"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no results array in {v}"))?;
    Ok((took, results.len()))
}

/// Latencies of `queries`, `concurrency` at a time, and the wall time they took.
async fn run(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    queries: &[String],
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<usize>, Duration)> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let tasks = (0..concurrency).map(|_| async {
        let mut seen = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(q) = queries.get(i) else {
                return Ok::<_, anyhow::Error>(seen);
            };
            seen.push(search(client, base, key, q).await?);
        }
    });
    let mut latencies = Vec::with_capacity(queries.len());
    let mut results = Vec::with_capacity(queries.len());
    for task in futures::future::join_all(tasks).await {
        for (took, n) in task? {
            latencies.push(took);
            results.push(n);
        }
    }
    latencies.sort_unstable();
    Ok((latencies, results, started.elapsed()))
}

/// Nearest rank, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let n = sorted.len();
    let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn summary(latencies: &[Duration], results: &[usize]) -> String {
    let mean = results.iter().sum::<usize>() as f64 / results.len().max(1) as f64;
    let empty = results.iter().filter(|&&n| n == 0).count();
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {mean:.1} results per query \
         ({empty} with none)",
        pct(latencies, 0.50),
        pct(latencies, 0.90),
        pct(latencies, 0.99),
        pct(latencies, 1.0),
    )
}

/// How many of the tenant's memories share a term with each query: how hard the dataset makes
/// the search's choice.
async fn matches(
    conn: &mut PgConnection,
    tenant: Uuid,
    queries: &[String],
) -> anyhow::Result<Vec<i64>> {
    let mut counts = Vec::with_capacity(queries.len());
    for q in queries {
        counts.push(
            sqlx::query_scalar(
                "SELECT count(*) FROM memories WHERE tenant_id = $1 AND terms && $2::text[]",
            )
            .bind(tenant)
            .bind(query_terms(q))
            .fetch_one(&mut *conn)
            .await?,
        );
    }
    counts.sort_unstable();
    Ok(counts)
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let count: usize = env_or("BENCH_MEMORY_QUERIES", 1000)?;
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 8)?;
    let server_url = std::env::var("OPENCLAW_MIGRATOR_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db_url = with_database(&server_url, DATABASE);
    let app_db = openclaw_tests::services::app_role_url(&db_url);
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = fresh_prefix();
    let env = [
        ("OPENCLAW_MIGRATOR_URL", db_url.as_str()),
        ("DATABASE_URL", app_db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("OPENCLAW_REDIS_PREFIX", prefix.as_str()),
    ];

    println!(
        "make bench — memory search: POST /v1/memory/search (limit {LIMIT}, lexical: no embedding \
         model) through `openclaw serve` for one tenant's {PER_TENANT} memories among {} \
         ({TENANTS} tenants), {:.0} % English and {:.0} % Chinese, real processes sharing the \
         machine's cores",
        TENANTS * PER_TENANT,
        (1.0 - CHINESE) * 100.0,
        CHINESE * 100.0,
    );
    let tenant = match stored_dataset(&db_url, &env).await? {
        Some(tenant) => {
            println!("dataset: reused from database {DATABASE} (version {DATASET_VERSION})");
            tenant
        }
        None => load(&server_url, &db_url, &env).await?,
    };

    let key = {
        let id = tenant.to_string();
        openclaw(
            &[
                "tenant",
                "update",
                &id,
                "--requests-per-hour",
                "1000000000",
                "--burst",
                "1000000",
                "--concurrent-requests",
                "1000000",
            ],
            &env,
        );
        cli_field(
            &["api", "key", "generate", "--tenant", &id, "--name", "bench"],
            &env,
            "key",
        )?
    };
    let (_server, base) = spawn_gateway(&env, None).await;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let vocab = Vocabulary::new();
    let mut rng = Rng(SEED ^ 0xC0FFEE);
    let mut queries = |n: usize| -> Vec<String> { (0..n).map(|_| vocab.query(&mut rng)).collect() };
    let warm = queries(50);
    let sequential = queries(count);
    let parallel = queries(count);
    // Warm-up: connections, prepared statements, the index's and the table's pages in memory,
    // so the plans below show a search as the measured ones run, not the first after a load.
    run(&client, &base, &key, &warm, 1).await?;

    // 1. The plans of realistic queries: two rarer words, four with the commonest among them,
    // and Chinese.
    let store = Store::connect(&db_url, 1).await?;
    let shown = "dentist appointment";
    let full = std::env::var_os("BENCH_MEMORY_FULL_PLAN").is_some();
    let mut plans = Vec::new();
    for query in [shown, "user prefers dark mode", "用户偏好简洁的回复"] {
        plans.push((query, explain(&store, tenant, query).await?));
    }
    println!(
        "EXPLAIN (ANALYZE, BUFFERS) of the search for {shown:?}, pool {POOL}{}:",
        if full {
            ""
        } else {
            " (nodes only; BENCH_MEMORY_FULL_PLAN=1 for all of it)"
        }
    );
    if full {
        plans[0].1.lines.iter().for_each(|l| println!("    {l}"));
    } else {
        plans[0].1.nodes().for_each(|l| println!("    {l}"));
    }
    for (query, plan) in &plans {
        let indexes: Vec<String> = plan
            .indexes
            .iter()
            .map(|(name, n)| format!("{name} ×{n}"))
            .collect();
        println!(
            "{} {query:?}: memories read through {}{}; {} ms, buffers {}",
            if plan.seq_scan { "!!" } else { "plan" },
            if indexes.is_empty() {
                "no index".to_string()
            } else {
                indexes.join(", ")
            },
            if plan.seq_scan {
                " and a SEQUENTIAL SCAN"
            } else {
                ""
            },
            plan.execution.trim_end_matches(" ms"),
            plan.buffers,
        );
    }
    let index_ok = plans
        .iter()
        .all(|(_, p)| !p.seq_scan && !p.indexes.is_empty())
        && plans.iter().any(|(_, p)| p.uses("memories_search"));
    println!(
        "{}",
        if index_ok {
            "index check: ok — no plan scans memories whole, and the GIN index memories_search serves the rarer terms"
        } else {
            "!! index check FAILED: a plan scans memories whole, or none uses memories_search"
        }
    );
    store.close().await;

    // 2. Latency over HTTP.
    let (latencies, results, _) = run(&client, &base, &key, &sequential, 1).await?;
    println!(
        "sequential, {count} queries of 1–4 words: {}",
        summary(&latencies, &results)
    );
    let (latencies, results, took) = run(&client, &base, &key, &parallel, concurrency).await?;
    println!(
        "concurrency {concurrency}, {count} queries: {:.1} queries/s, {}",
        count as f64 / took.as_secs_f64(),
        summary(&latencies, &results)
    );
    let mut conn = PgConnection::connect(&db_url).await?;
    let counts = matches(&mut conn, tenant, &sequential).await?;
    let at =
        |p: f64| counts[((p * counts.len() as f64).ceil() as usize).clamp(1, counts.len()) - 1];
    println!(
        "the sequential queries share a term with p50 {}, p90 {}, p99 {}, max {} of the \
         tenant's {PER_TENANT} memories",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
    );
    Ok(if index_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
