//! Memory search relevance (issue 5): a few hundred English, Chinese, Japanese and Korean
//! memories, the queries a user or model would type for them, and recall@5 of at least 0.9.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use futures::StreamExt;
use openclaw_domain::Tier;
use openclaw_tests::{spawn_app, TestApp, TestTenant};
use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Lang {
    En,
    Zh,
    Ja,
    Ko,
}

use Lang::{En, Ja, Ko, Zh};

/// The recall the issue demands.
const MIN_RECALL: f64 = 0.9;
const TOP_K: usize = 5;

/// Hand-written memories, by key: every query's answer, and distractors that share its words
/// (other "config", "user", "配置", "用户" memories) so a hit means the search told them apart.
const CURATED: &[(&str, &str)] = &[
    // English: the user's preferences and personal facts.
    (
        "reply_style",
        "User prefers short bullet-point answers over long paragraphs.",
    ),
    (
        "meeting_time",
        "User prefers meetings after 10am; mornings are blocked for deep work.",
    ),
    (
        "food",
        "User loves spicy Sichuan food but is allergic to peanuts.",
    ),
    (
        "coffee",
        "User's usual coffee order is an oat milk flat white with no sugar.",
    ),
    (
        "offsite_food",
        "Food budget for the Lisbon offsite is €60 per person per day.",
    ),
    (
        "timezone",
        "User's time zone is Europe/Berlin (CET); they fly to New York every quarter.",
    ),
    (
        "birthday",
        "User's birthday is 14 March; his wife Clara's birthday is 2 July.",
    ),
    (
        "priya_birthday",
        "Priya's birthday is 2 November; the team usually orders a cake from Konditorei Holst.",
    ),
    (
        "flights",
        "User always books aisle seats and prefers Lufthansa for flights longer than three hours.",
    ),
    (
        "hotel",
        "User prefers hotels within walking distance of the client's office; budget cap €180 per night.",
    ),
    (
        "gym",
        "User goes to the gym on Monday, Wednesday and Friday at 7am, so no calls before 9.",
    ),
    (
        "language",
        "User writes to German customers in German and to everyone else in English.",
    ),
    (
        "signoff",
        "User signs emails with 'Best, Jan' and never uses emojis in external mail.",
    ),
    // English: the company.
    (
        "company",
        "User is Head of Operations at Northwind Logistics, a 120-person freight company based in Hamburg.",
    ),
    (
        "competitors",
        "Northwind's main competitors are Baltic Freight Group and CargoLine.",
    ),
    (
        "fiscal_year",
        "Northwind's fiscal year starts on 1 April and ends on 31 March.",
    ),
    (
        "revenue",
        "Northwind's revenue last fiscal year was €48M, up 12% on the year before.",
    ),
    (
        "ceo",
        "Northwind's CEO is Katrin Vogel; she wants a one-page summary before every board meeting.",
    ),
    (
        "hiring",
        "Hiring plan: 8 new drivers and 2 dispatchers before the peak season in November.",
    ),
    // English: projects.
    (
        "atlas",
        "Project Atlas: moving the warehouse management system to AWS. Deadline is end of Q3; owner Marcus Lee.",
    ),
    (
        "atlas_budget",
        "Project Atlas budget is €350k, of which €120k was spent by June.",
    ),
    (
        "atlas_vendor",
        "AWS migration partner for Atlas is CloudBridge; account manager Ellie Turner.",
    ),
    (
        "atlas_retro",
        "Atlas retro: the data export took twice as long as planned; next time test with the full data volume.",
    ),
    (
        "helios",
        "Project Helios (customer portal redesign) is postponed until next year's budget is approved.",
    ),
    (
        "iso_deadline",
        "Deadline for the ISO 27001 audit documents is 30 September; Priya collects them.",
    ),
    // English: configuration and IT.
    (
        "vpn",
        "The VPN config file for the Hamburg office is ~/Documents/vpn/hamburg.ovpn; import it into Tunnelblick.",
    ),
    (
        "vscode",
        "User's VS Code config (settings.json) is synced with the Settings Sync extension.",
    ),
    (
        "config_approval",
        "Production config changes need approval from Priya Nair before deploying.",
    ),
    (
        "wifi",
        "Office Wi-Fi network is Northwind-Staff; the password rotates on the first Monday of each month.",
    ),
    (
        "api_key",
        "The OpenClaw staging API key is stored in 1Password under 'OpenClaw staging'.",
    ),
    (
        "openclaw_usage",
        "Northwind uses OpenClaw Cloud to summarise daily shipment exceptions.",
    ),
    (
        "password_manager",
        "Company password manager is 1Password; shared vaults are per department.",
    ),
    (
        "db",
        "Production database: Postgres on db-prod-2.internal, port 5433; read replicas db-ro-1 and db-ro-2.",
    ),
    (
        "staging_db",
        "Staging database is refreshed from production every Sunday night with customer data anonymised.",
    ),
    (
        "printer",
        "The office printer on floor 2 needs the driver from the IT wiki; its IP address is 10.1.2.40.",
    ),
    (
        "laptop",
        "User's laptop is a ThinkPad X1 Carbon; IT replaces it in 2026.",
    ),
    // English: contacts.
    (
        "accountant",
        "Accountant: Helen Brooks, phone +49 40 5550 1234, email helen@brooks-tax.de.",
    ),
    (
        "lawyer",
        "Contract lawyer is Daniel Ortiz at Ortiz & Webb; he prefers email over phone calls.",
    ),
    (
        "it_hotline",
        "IT support hotline is +49 40 5550 9000 (24/7); tickets go to help.northwind.de.",
    ),
    (
        "supplier",
        "Main packaging supplier is Kartonwerk GmbH; contact Jonas Keller, jonas.keller@kartonwerk.de.",
    ),
    (
        "insurer",
        "Fleet insurance is with Allianz; policy number FL-22-889104, renewal in January.",
    ),
    (
        "assistant",
        "User's assistant is Mia Schulz; she manages his calendar and travel bookings.",
    ),
    // English: schedules.
    (
        "standup",
        "Weekly ops standup is every Tuesday at 9:30 in room Elbe.",
    ),
    (
        "board_slides",
        "Board meetings are on the last Thursday of each quarter; slides are due one week before.",
    ),
    (
        "payroll",
        "Payroll runs on the 25th of each month; overtime sheets must be in by the 20th.",
    ),
    (
        "dentist",
        "Dentist appointment with Dr. Meyer on 12 August at 4pm.",
    ),
    (
        "one_on_one",
        "One-on-one with Marcus every other Friday at 2pm.",
    ),
    // English: product facts.
    (
        "pricing",
        "Northwind Track (our shipment tracking app) costs €12 per user per month; volume discounts start at 500 users.",
    ),
    (
        "sla",
        "Our SLA for Northwind Track promises 99.9% uptime and a 4-hour response to critical incidents.",
    ),
    (
        "support_hours",
        "Customer support hours are 8am–6pm CET on weekdays; critical incidents are handled 24/7.",
    ),
    (
        "refund",
        "Refund policy: customers can cancel within 30 days of purchase for a full refund.",
    ),
    (
        "integrations",
        "Northwind Track integrates with SAP, Shopify and DHL's API.",
    ),
    // English: meeting notes.
    (
        "acme",
        "Notes from the 3 June call with Acme Retail: they want to pilot Northwind Track in five warehouses from August; the decision maker is their COO, Sarah Kim.",
    ),
    (
        "acme_followup",
        "Send Acme Retail the security questionnaire before their procurement review.",
    ),
    (
        "qbr",
        "Quarterly business review with DHL: on-time delivery was 96.1%, target is 97%.",
    ),
    // Chinese: configuration, with other memories that mention 配置 or contain 配.
    ("oc_config", "OpenClaw 配置文件位于 ~/.openclaw/config.yaml"),
    (
        "nginx",
        "生产环境的 Nginx 配置由运维组的老周负责修改，改之前要在群里说一声。",
    ),
    (
        "laptop_zh",
        "用户的电脑是 MacBook Pro M3，32GB 内存，由公司统一配发。",
    ),
    (
        "onboarding",
        "新员工开发环境的搭建步骤写在 Confluence 的 IT 空间里。",
    ),
    (
        "budget_alloc",
        "第三季度市场预算分配：线上投放占 60%，线下活动占 40%。",
    ),
    // Chinese: the user, with many other 用户 memories.
    ("reply_style_zh", "用户偏好简洁的回复风格"),
    (
        "city",
        "用户在上海工作，时区是 UTC+8，每个月去一次深圳出差。",
    ),
    ("coffee_zh", "用户喜欢喝美式咖啡，不加糖也不加奶。"),
    (
        "meeting_zh",
        "用户不喜欢周五下午开会，会议尽量安排在周二或周三上午。",
    ),
    ("birthday_zh", "用户的生日是 6 月 18 日，喜欢收到手写贺卡。"),
    ("food_zh", "用户不吃香菜，喜欢吃川菜和粤式早茶。"),
    ("car", "用户开一辆白色特斯拉 Model 3，车牌沪A·D8888。"),
    (
        "daughter",
        "用户的女儿在读小学三年级，每周三下午要去接她放学。",
    ),
    (
        "user_research",
        "用户调研结论：大部分用户觉得导出报表的功能不好找。",
    ),
    (
        "paying_users",
        "目前产品的付费用户有 1200 家，其中 30% 在华南地区。",
    ),
    // Chinese: clients and contacts.
    (
        "client_phone",
        "客户王总（华东贸易）的联系电话是 138-1234-5678。",
    ),
    ("client_pref", "王总喜欢电话沟通，不太看微信语音消息。"),
    (
        "frontdesk",
        "公司前台电话是 021-5555-0100，工作日 9 点到 18 点有人接听。",
    ),
    (
        "supplier_zh",
        "包装供应商李经理的联系方式：微信 li_pack88。",
    ),
    (
        "finance_contact",
        "财务部的对接人是孙丽，报销和发票问题都可以找她。",
    ),
    (
        "chat_tools",
        "团队内部沟通用飞书，对外和客户沟通用企业微信。",
    ),
    (
        "mooncakes",
        "中秋节给客户送月饼，名单在共享盘的“客户关怀”文件夹里。",
    ),
    ("okr", "今年部门 OKR 的重点是把客户流失率降到 5% 以下。"),
    ("weekly_report", "周报每周五下午 5 点前发给王总和刘洋。"),
    // Chinese: projects and meeting notes.
    (
        "xinghuo",
        "“星火”项目：重构订单系统，负责人刘洋，计划 11 月底上线。",
    ),
    (
        "xinghuo_risk",
        "星火项目的主要风险是老系统的数据迁移，需要提前做两轮演练。",
    ),
    (
        "qingyun",
        "“青云”项目已经暂停，要等明年预算批下来再重新启动。",
    ),
    (
        "huadong_notes",
        "6 月 5 日与华东贸易的会议纪要：对方希望下个月开始试用，我们需要在 6 月 20 日前发出报价。",
    ),
    (
        "huadong_contract",
        "华东贸易的合同每年 12 月续签，付款周期是 60 天。",
    ),
    // Chinese: policies, IT and product facts.
    (
        "reimburse",
        "差旅报销要在出差结束后 30 天内提交，超过 5000 元需要部门总监审批。",
    ),
    (
        "leave",
        "年假需要提前两周在 OA 系统里申请，由直属经理审批。",
    ),
    (
        "wifi_zh",
        "办公室 WiFi 名称是 SH-Office，密码每季度更换一次，可以找行政小陈要。",
    ),
    (
        "test_server",
        "测试服务器地址是 10.0.3.15，用户名 deploy，用 SSH 密钥登录。",
    ),
    (
        "prod_server",
        "生产服务器只能通过跳板机 jump.sh-corp.cn 访问，不能直接登录。",
    ),
    (
        "price_zh",
        "产品价格：基础版每年 9800 元，专业版每年 29800 元，都包含一年技术支持。",
    ),
    (
        "invoice",
        "开发票需要提供公司全称、税号和开户行，财务每周四统一开票。",
    ),
    (
        "hotel_zh",
        "去北京出差一般住国贸附近的酒店，预算每晚 800 元以内。",
    ),
    (
        "annual_party",
        "公司年会定在 1 月 18 日，地点在浦东香格里拉。",
    ),
    // Japanese.
    (
        "ja_tokyo_meeting",
        "毎週月曜日の10時に東京チームとの定例会議があります。",
    ),
    (
        "ja_osaka_phone",
        "大阪支社の担当者は田中さんで、電話番号は06-1234-5678です。",
    ),
    ("ja_keigo", "日本の取引先へのメールは必ず敬語で書くこと。"),
    (
        "ja_tokyo_office",
        "東京オフィスの住所は渋谷区神南1-2-3です。",
    ),
    ("ja_tanaka_birthday", "田中さんの誕生日は5月3日です。"),
    (
        "ja_expo",
        "来年の物流展示会は東京ビッグサイトで9月に開催されます。",
    ),
    // Korean.
    (
        "ko_seoul_office",
        "서울 사무소 주소는 강남구 테헤란로 123입니다.",
    ),
    (
        "ko_partner",
        "한국 파트너사 담당자는 김민준 부장이고, 이메일은 minjun.kim@hanbit.kr 입니다.",
    ),
    ("ko_trip", "서울 출장은 매년 10월에 갑니다."),
    ("ko_golf", "김민준 부장은 골프를 좋아합니다."),
    ("ko_holiday", "추석 연휴에는 한국 사무소가 쉽니다."),
];

/// What a user or the model would type, and the `CURATED` keys that answer it: a hit when any of
/// them is in the top five. Two keys only where two memories answer equally well.
const QUERIES: &[(Lang, &str, &[&str])] = &[
    (En, "what food does the user like", &["food"]),
    (En, "does the user have a peanut allergy", &["food"]),
    (En, "how does the user prefer answers", &["reply_style"]),
    (En, "when does the user prefer meetings", &["meeting_time"]),
    (En, "user time zone", &["timezone"]),
    (En, "when is the user's birthday", &["birthday"]),
    (En, "user seat preference on flights", &["flights"]),
    (En, "what company does the user work for", &["company"]),
    (En, "Northwind main competitors", &["competitors"]),
    (En, "when does the fiscal year start", &["fiscal_year"]),
    (En, "project Atlas deadline", &["atlas"]),
    (En, "where is the VPN config file", &["vpn"]),
    (
        En,
        "who approves production config changes",
        &["config_approval"],
    ),
    (En, "office wifi password", &["wifi", "wifi_zh"]),
    (En, "where is the staging API key", &["api_key"]),
    (En, "production database port", &["db"]),
    (En, "accountant phone number", &["accountant"]),
    (En, "who is the packaging supplier contact", &["supplier"]),
    (En, "fleet insurance policy number", &["insurer"]),
    (En, "when are board meeting slides due", &["board_slides"]),
    (
        En,
        "how much does Northwind Track cost per user",
        &["pricing"],
    ),
    (En, "shipment tracking price per month", &["pricing"]),
    (En, "uptime SLA", &["sla"]),
    (En, "refund policy", &["refund"]),
    (En, "who is the decision maker at Acme Retail", &["acme"]),
    // The seed's own examples.
    (Zh, "配置", &["oc_config"]),
    (Zh, "OpenClaw 配置", &["oc_config"]),
    (Zh, "用户偏好", &["reply_style_zh"]),
    (Zh, "客户的联系电话", &["client_phone"]),
    (Zh, "用户喜欢喝什么咖啡", &["coffee_zh"]),
    (Zh, "用户在哪个城市工作", &["city"]),
    (Zh, "用户的生日", &["birthday_zh"]),
    (Zh, "用户喜欢吃什么", &["food_zh"]),
    (Zh, "用户开会时间安排", &["meeting_zh"]),
    (Zh, "王总喜欢怎么沟通", &["client_pref"]),
    (Zh, "星火项目什么时候上线", &["xinghuo"]),
    (Zh, "青云项目为什么暂停", &["qingyun"]),
    (Zh, "华东贸易的报价什么时候发", &["huadong_notes"]),
    (Zh, "差旅报销的期限", &["reimburse"]),
    (Zh, "年假怎么申请", &["leave"]),
    (Zh, "办公室WiFi密码", &["wifi_zh", "wifi"]),
    (Zh, "测试服务器地址", &["test_server"]),
    (Zh, "谁负责修改 Nginx 配置", &["nginx"]),
    (Zh, "专业版价格", &["price_zh"]),
    (Zh, "开发票需要什么信息", &["invoice"]),
    (Ja, "大阪支社の電話番号", &["ja_osaka_phone"]),
    (Ja, "東京チームの定例会議", &["ja_tokyo_meeting"]),
    (Ja, "取引先へのメールの書き方", &["ja_keigo"]),
    (Ko, "서울 사무소 주소", &["ko_seoul_office"]),
    (Ko, "파트너사 담당자 이메일", &["ko_partner"]),
    (Ko, "김민준 부장이 좋아하는 것", &["ko_golf"]),
];

/// The bulk of an assistant's memory, from templates: meetings, shipments, reminders, contacts
/// and feedback that share everyday words with the queries but answer none of them.
fn filler() -> Vec<String> {
    let mut out = Vec::new();

    let people = [
        "Lena Hoffmann",
        "Tom Becker",
        "Aisha Khan",
        "Jonas Weber",
        "Sofia Rossi",
        "Ben Carter",
        "Nina Petrova",
        "Omar Haddad",
    ];
    let topics = [
        "the Q4 hiring plan",
        "warehouse safety training",
        "the forklift lease",
        "customs paperwork for UK shipments",
        "the driver rota",
        "carbon reporting",
        "the intern programme",
        "fuel surcharge rates",
        "the Rotterdam depot",
        "a pallet damage claim",
    ];
    let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
    // (i % 8, (i + i / 8) % 10) never repeats for i < 40.
    for i in 0..40 {
        let (who, topic, day) = (people[i % 8], topics[(i + i / 8) % 10], weekdays[i % 5]);
        out.push(if i % 2 == 0 {
            format!("Met {who} on {day} about {topic}; follow-up next week.")
        } else {
            format!("Call with {who} on {day}: agreed next steps on {topic}.")
        });
    }

    let cities = [
        "Rotterdam",
        "Gdansk",
        "Milan",
        "Lyon",
        "Vienna",
        "Prague",
        "Copenhagen",
        "Antwerp",
        "Zurich",
        "Madrid",
    ];
    let reasons = [
        "a customs hold",
        "a strike at the port",
        "a truck breakdown",
        "missing paperwork",
        "bad weather",
        "a warehouse backlog",
    ];
    for i in 0..30 {
        out.push(format!(
            "Shipment NW-{} to {} arrived {} days late because of {}.",
            4100 + i * 37,
            cities[i % 10],
            2 + i % 4,
            reasons[i % 6]
        ));
    }

    let tasks = [
        "renew the company car registration",
        "submit the VAT return",
        "book the Christmas party venue",
        "order new hi-vis vests",
        "send the forklift inspection report",
        "approve Tom's holiday request",
        "update the driver handbook",
        "review the Q3 fuel invoices",
        "pay the Kartonwerk invoice",
        "sign the new cleaning contract",
        "check the warehouse fire extinguishers",
        "renew the domain northwind.de",
        "collect the parking permits",
        "prepare the customs training slides",
        "file the damaged-goods claim",
        "reply to the tax office letter",
        "schedule the annual safety audit",
        "archive last year's delivery notes",
        "order toner for the office printer",
        "confirm the trade fair booth",
    ];
    for (i, task) in tasks.iter().enumerate() {
        out.push(format!("Reminder: {task} by {} July.", i + 1));
    }

    let roles = [
        "sales lead",
        "dispatcher",
        "customs broker",
        "account manager",
        "procurement lead",
    ];
    let companies = [
        "Hanse Shipping",
        "Elbe Cargo",
        "Nordic Pallets",
        "Rhein Trucks",
        "Alpine Cold Chain",
    ];
    let firsts = ["Anna", "Felix", "Marta", "Lukas", "Elena"];
    let lasts = ["Schmidt", "Novak", "Berg"];
    for i in 0..15 {
        let (first, last) = (firsts[i % 5], lasts[i / 5]);
        let company = companies[(i + i / 5) % 5];
        let reach = if i % 3 == 0 {
            format!("phone +49 40 555 01{i:02}")
        } else {
            let domain = company.to_lowercase().replace(' ', "-");
            format!(
                "{}.{}@{domain}.com",
                first.to_lowercase(),
                last.to_lowercase()
            )
        };
        out.push(format!(
            "Contact: {first} {last}, {} at {company}, {reach}.",
            roles[i % 5]
        ));
    }

    let books = [
        "The Goal",
        "High Output Management",
        "Thinking, Fast and Slow",
        "The Phoenix Project",
        "Good Strategy Bad Strategy",
        "The Box",
        "Deep Work",
        "Range",
    ];
    for book in books {
        out.push(format!(
            "User read '{book}' and recommended it to the team."
        ));
    }

    let people_zh = [
        "张伟", "李娜", "陈静", "赵磊", "孙浩", "周敏", "吴刚", "郑雪",
    ];
    let topics_zh = [
        "招聘计划",
        "年会节目",
        "仓库盘点",
        "供应商评估",
        "销售数据报表",
        "团建活动",
        "合同模板",
        "新人培训",
    ];
    let days_zh = ["周一", "周二", "周三", "周四", "周五"];
    // (i % 8, (i + i / 8) % 8) never repeats for i < 32.
    for i in 0..32 {
        let (who, topic, day) = (people_zh[i % 8], topics_zh[(i + i / 8) % 8], days_zh[i % 5]);
        out.push(if i % 2 == 0 {
            format!("{day}和{who}讨论了{topic}，下周跟进。")
        } else {
            format!("{day}跟{who}对了一下{topic}的进度。")
        });
    }

    let cities_zh = [
        "上海", "苏州", "杭州", "南京", "广州", "成都", "武汉", "天津",
    ];
    for i in 0..16 {
        out.push(format!(
            "{}仓库 {} 月的库存周转天数是 {} 天。",
            cities_zh[i % 8],
            3 + i / 8,
            20 + (i * 7) % 25
        ));
    }

    let tasks_zh = [
        "交社保材料",
        "续签办公室租约",
        "更新员工手册",
        "提交季度税表",
        "给供应商付尾款",
        "检查消防设备",
        "预订年会场地",
        "整理报销单据",
        "确认展会展位",
        "更新客户名单",
        "备份项目文档",
        "续费公司域名",
    ];
    for (i, task) in tasks_zh.iter().enumerate() {
        out.push(format!("提醒：7 月 {} 日之前{task}。", i + 1));
    }

    let feedback = [
        "手机端登录太慢",
        "导出的 Excel 格式错乱",
        "希望增加暗色模式",
        "通知邮件太多",
        "搜索结果不准确",
        "找不到修改密码的入口",
        "账单页面加载慢",
        "希望支持批量导入",
        "图表颜色难以区分",
        "时区显示不对",
    ];
    for issue in feedback {
        out.push(format!("用户反馈：{issue}。"));
    }

    out
}

/// Stores every memory (eight at a time) and returns memory id → index into `contents`.
async fn remember_all(
    app: &TestApp,
    t: &TestTenant,
    contents: &[String],
) -> HashMap<String, usize> {
    futures::stream::iter(contents.iter().enumerate())
        .map(|(i, content)| async move {
            let resp = app
                .post("/v1/memory")
                .bearer_auth(&t.key)
                .json(&json!({"content": content, "tags": [], "type": "long-term"}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
            let body: Value = resp.json().await.unwrap();
            let id = body["id"].as_str().expect("a memory id");
            assert!(id.starts_with("mem_"), "{body}");
            (id.to_string(), i)
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// The top five for `query` as (id, score), best first, checking the scores on the way.
async fn search(app: &TestApp, t: &TestTenant, query: &str) -> Vec<(String, f64)> {
    let resp = app
        .post("/v1/memory/search")
        .bearer_auth(&t.key)
        .json(&json!({"query": query, "limit": TOP_K}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body: Value = resp.json().await.unwrap();
    let results = body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert!(results.len() <= TOP_K, "limit {TOP_K} not honoured: {body}");
    let hits: Vec<(String, f64)> = results
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_else(|| panic!("{r}"));
            let score = r["score"].as_f64().unwrap_or_else(|| panic!("{r}"));
            assert!(
                (0.0..=1.0).contains(&score),
                "score outside 0..=1 for {query:?}: {r}"
            );
            (id.to_string(), score)
        })
        .collect();
    assert!(
        hits.windows(2).all(|w| w[0].1 >= w[1].1),
        "results for {query:?} are not best first: {body}"
    );
    hits
}

#[tokio::test]
async fn memory_search_recall_at_5_is_at_least_0_9_in_english_and_cjk() {
    let keys: HashMap<&str, usize> = CURATED
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    assert_eq!(keys.len(), CURATED.len(), "curated keys are unique");
    let contents: Vec<String> = CURATED
        .iter()
        .map(|(_, c)| c.to_string())
        .chain(filler())
        .collect();
    assert_eq!(
        contents.iter().collect::<HashSet<_>>().len(),
        contents.len(),
        "memories are unique"
    );

    let app = spawn_app().await;
    let t = app.create_tenant(Tier::Enterprise).await;
    let ids = remember_all(&app, &t, &contents).await;
    assert_eq!(ids.len(), contents.len(), "every memory has its own id");

    let langs = [En, Zh, Ja, Ko];
    let mut per_lang: HashMap<Lang, (usize, usize)> = HashMap::new();
    let mut misses = String::new();
    for &(lang, query, expect) in QUERIES {
        let expected: Vec<usize> = expect
            .iter()
            .map(|k| *keys.get(k).unwrap_or_else(|| panic!("no memory {k:?}")))
            .collect();
        let top = search(&app, &t, query).await;
        let found: Vec<usize> = top
            .iter()
            .map(|(id, _)| *ids.get(id).unwrap_or_else(|| panic!("unknown memory {id}")))
            .collect();
        let hit = found.iter().any(|i| expected.contains(i));
        let tally = per_lang.entry(lang).or_default();
        tally.1 += 1;
        if hit {
            tally.0 += 1;
            continue;
        }
        writeln!(misses, "[{lang:?}] {query:?}").unwrap();
        for &i in &expected {
            writeln!(misses, "    expected: {}", contents[i]).unwrap();
        }
        for (rank, ((_, score), &i)) in top.iter().zip(&found).enumerate() {
            writeln!(misses, "    {}. {score:.3}  {}", rank + 1, contents[i]).unwrap();
        }
    }

    let hits: usize = per_lang.values().map(|(h, _)| h).sum();
    let recall = hits as f64 / QUERIES.len() as f64;
    println!(
        "memory relevance: recall@{TOP_K} {recall:.3} ({hits}/{}) over {} memories",
        QUERIES.len(),
        contents.len()
    );
    for lang in langs {
        let (h, n) = per_lang.get(&lang).copied().unwrap_or_default();
        println!("  {lang:?}: {:.3} ({h}/{n})", h as f64 / n as f64);
    }
    if !misses.is_empty() {
        println!("misses:\n{misses}");
    }
    assert!(
        recall >= MIN_RECALL,
        "recall@{TOP_K} {recall:.3} is below {MIN_RECALL}; misses:\n{misses}"
    );
}
