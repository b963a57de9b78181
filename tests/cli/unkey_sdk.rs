//! Unkey's own SDKs against `keyward serve`: unkey-py 3.x in a virtual
//! environment the test makes, and @unkey/api 2.x where npm is present.
//! Both are installed once into target/tmp and reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::host::{self, run, tools};
use crate::common::serve::Serve;
use crate::common::*;

const ROOT_KEY: &str = "unkey-root-for-tests-9876543210";

/// unkey-py 3.x in a virtual environment; None (after saying why) when
/// one cannot be made here.
fn python() -> Option<PathBuf> {
    match host::venv("unkey-py", &["unkey-py>=3,<4"]) {
        Ok(venv) => Some(venv.join("bin/python")),
        Err(why) => {
            skip(
                "the unkey-py SDK test",
                &format!(
                    "cannot make a virtual environment with unkey-py (needs python3-venv and PyPI): {why}"
                ),
            );
            None
        }
    }
}

/// A directory with @unkey/api 2.x installed; None without npm.
fn node() -> Option<PathBuf> {
    let dir = tools().join("unkey-node");
    let marker = dir.join(".installed");
    if marker.exists() {
        return Some(dir);
    }
    let _making = host::MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if marker.exists() {
        return Some(dir);
    }
    if program("npm").is_none() || program("node").is_none() {
        skip(
            "the @unkey/api SDK test",
            "npm is not installed; apt install npm to run it",
        );
        return None;
    }
    std::fs::create_dir_all(&dir).expect("node dir");
    std::fs::write(dir.join("package.json"), "{\"private\": true}\n").expect("package.json");
    match run(Command::new("npm")
        .args([
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "@unkey/api@^2",
        ])
        .current_dir(&dir))
    {
        Ok(_) => {
            std::fs::write(&marker, "").expect("marker");
            Some(dir)
        }
        Err(why) => {
            skip(
                "the @unkey/api SDK test",
                &format!(
                    "npm install @unkey/api failed: {}",
                    why.lines().last().unwrap_or("")
                ),
            );
            None
        }
    }
}

struct Keys {
    valid: String,
    valid_id: String,
    revoked: String,
    expired: String,
    /// 3 credits and `api=2/1m`.
    metered: String,
    /// 1 credit.
    few: String,
}

fn vault() -> (TestVault, Keys) {
    let v = TestVault::new();
    let expired = v
        .kw_at(
            "2026-11-23T11:00:00Z",
            ["create", "--name", "old", "--expires", "30m"],
        )
        .output()
        .expect("create");
    let expired = String::from_utf8_lossy(&expired.stdout).trim().to_string();
    let (key, valid) = v.create_json(&[
        "--name",
        "web",
        "--scope",
        "documents.read",
        "--owner",
        "acct_7",
        "--meta",
        r#"{"plan": "pro", "seats": 3}"#,
    ]);
    let revoked = v.create(&["--name", "gone"]);
    v.kw(["revoke", "gone", "--yes"]).assert().success();
    let metered = v.create(&[
        "--name",
        "metered",
        "--credits",
        "3",
        "--ratelimit",
        "api=2/1m",
    ]);
    let few = v.create(&["--name", "few", "--credits", "1"]);
    let keys = Keys {
        valid,
        valid_id: key["id"].as_str().expect("id").to_string(),
        revoked,
        expired,
        metered,
        few,
    };
    (v, keys)
}

/// What each SDK script prints: one JSON object with what it saw.
fn check(out: &str, keys: &Keys) {
    let seen: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(seen["valid"]["valid"], true, "{seen}");
    assert_eq!(seen["valid"]["code"], "VALID", "{seen}");
    assert_eq!(seen["valid"]["keyId"], keys.valid_id.as_str(), "{seen}");
    assert_eq!(seen["valid"]["name"], "web", "{seen}");
    assert!(
        seen["valid"]["requestId"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{seen}"
    );
    assert_eq!(seen["valid"]["externalId"], "acct_7", "{seen}");
    assert_eq!(seen["valid"]["meta"]["plan"], "pro", "{seen}");
    assert_eq!(seen["valid"]["meta"]["seats"], 3, "{seen}");
    assert_eq!(seen["valid"]["meta"]["env"], "default", "{seen}");
    assert_eq!(seen["scoped"]["code"], "INSUFFICIENT_PERMISSIONS", "{seen}");
    assert_eq!(seen["revoked"]["code"], "DISABLED", "{seen}");
    assert_eq!(seen["expired"]["code"], "EXPIRED", "{seen}");
    assert!(seen["expired"]["expires"].is_i64(), "{seen}");
    assert_eq!(seen["unknown"]["code"], "NOT_FOUND", "{seen}");
    assert_eq!(seen["unknown"]["valid"], false, "{seen}");
    assert_eq!(seen["wrong_root"]["status"], 401, "{seen}");
    assert!(seen["wrong_root"]["type"].is_string(), "{seen}");
    // Quotas, through the SDKs' own models: `credits.cost`, named limits
    // (the key's, and one applied for the call), `data.credits` and
    // `data.ratelimits`, RATE_LIMITED and USAGE_EXCEEDED.
    let first = &seen["metered1"];
    assert_eq!(
        (first["code"].as_str(), first["credits"].as_i64()),
        (Some("VALID"), Some(2)),
        "{seen}"
    );
    let limit = &first["ratelimits"][0];
    assert_eq!(limit["name"], "api", "{seen}");
    assert_eq!(
        (limit["limit"].as_i64(), limit["duration"].as_i64()),
        (Some(2), Some(60_000)),
        "{seen}"
    );
    assert_eq!(
        (limit["remaining"].as_i64(), limit["exceeded"].as_bool()),
        (Some(1), Some(false)),
        "{seen}"
    );
    assert_eq!(limit["autoApply"], true, "{seen}");
    assert!(
        limit["reset"]
            .as_i64()
            .is_some_and(|ms| ms > 0 && ms <= 63_000),
        "{seen}"
    );
    assert!(
        limit["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{seen}"
    );
    assert_eq!(seen["metered2"]["code"], "VALID", "{seen}");
    assert_eq!(seen["metered2"]["credits"], 1, "{seen}");
    assert_eq!(seen["metered3"]["code"], "RATE_LIMITED", "{seen}");
    assert_eq!(seen["metered3"]["valid"], false, "{seen}");
    assert_eq!(
        seen["metered3"]["ratelimits"][0]["exceeded"], true,
        "{seen}"
    );
    assert_eq!(
        seen["metered3"]["credits"], 1,
        "a refused verification spends nothing: {seen}"
    );
    assert_eq!(seen["few1"]["code"], "VALID", "{seen}");
    assert_eq!(seen["few2"]["code"], "USAGE_EXCEEDED", "{seen}");
    assert_eq!(seen["few2"]["credits"], 0, "{seen}");
    assert_eq!(seen["adhoc1"]["code"], "VALID", "{seen}");
    assert_eq!(seen["adhoc1"]["ratelimits"][0]["name"], "burst", "{seen}");
    assert_eq!(seen["adhoc2"]["code"], "RATE_LIMITED", "{seen}");
}

fn serve(v: &TestVault) -> Serve {
    Serve::start(
        v,
        &["--root-key-env", "UNKEY_ROOT"],
        &[("UNKEY_ROOT", ROOT_KEY)],
    )
}

const PY: &str = r#"
import json, os
from unkey.py import Unkey, errors

url, root = os.environ["SERVER_URL"], os.environ["ROOT_KEY"]
seen = {}
with Unkey(root_key=root, server_url=url) as unkey:
    def verify(key, **kw):
        res = unkey.keys.verify_key(key=key, **kw)
        return {"valid": res.data.valid, "code": str(res.data.code.value if hasattr(res.data.code, "value") else res.data.code),
                "keyId": res.data.key_id, "name": res.data.name, "expires": res.data.expires,
                "requestId": res.meta.request_id, "credits": res.data.credits, "meta": res.data.meta,
                "externalId": res.data.identity.external_id if res.data.identity else None,
                "ratelimits": [{"exceeded": r.exceeded, "id": r.id, "name": r.name, "limit": r.limit,
                                "duration": r.duration, "reset": r.reset, "remaining": r.remaining,
                                "autoApply": r.auto_apply} for r in (res.data.ratelimits or [])]}
    seen["valid"] = verify(os.environ["VALID"], permissions="documents.read")
    seen["scoped"] = verify(os.environ["VALID"], permissions="documents.read AND documents.write")
    seen["revoked"] = verify(os.environ["REVOKED"])
    seen["expired"] = verify(os.environ["EXPIRED"])
    seen["unknown"] = verify("kw_" + "A" * 38)
    seen["metered1"] = verify(os.environ["METERED"], credits={"cost": 1}, ratelimits=[{"name": "api"}])
    seen["metered2"] = verify(os.environ["METERED"])
    seen["metered3"] = verify(os.environ["METERED"])
    seen["few1"] = verify(os.environ["FEW"])
    seen["few2"] = verify(os.environ["FEW"])
    burst = [{"name": "burst", "limit": 1, "duration": 60000}]
    seen["adhoc1"] = verify(os.environ["VALID"], ratelimits=burst)
    seen["adhoc2"] = verify(os.environ["VALID"], ratelimits=burst)
with Unkey(root_key="wrong", server_url=url) as unkey:
    try:
        unkey.keys.verify_key(key=os.environ["VALID"])
        seen["wrong_root"] = "accepted"
    except errors.UnauthorizedErrorResponse as e:
        seen["wrong_root"] = {"status": e.data.error.status, "type": e.data.error.type}
print(json.dumps(seen))
"#;

const JS: &str = r#"
const { Unkey } = require("@unkey/api");
const { UnauthorizedErrorResponse } = require("@unkey/api/models/errors");
(async () => {
  const serverURL = process.env.SERVER_URL, rootKey = process.env.ROOT_KEY;
  const unkey = new Unkey({ rootKey, serverURL });
  const verify = async (key, extra = {}) => {
    const res = await unkey.keys.verifyKey({ key, ...extra });
    return { valid: res.data.valid, code: res.data.code, keyId: res.data.keyId, name: res.data.name,
             expires: res.data.expires, requestId: res.meta.requestId, credits: res.data.credits,
             meta: res.data.meta, externalId: res.data.identity ? res.data.identity.externalId : null,
             ratelimits: res.data.ratelimits || [] };
  };
  const seen = {};
  seen.valid = await verify(process.env.VALID, { permissions: "documents.read" });
  seen.scoped = await verify(process.env.VALID, { permissions: "documents.read AND documents.write" });
  seen.revoked = await verify(process.env.REVOKED);
  seen.expired = await verify(process.env.EXPIRED);
  seen.unknown = await verify("kw_" + "A".repeat(38));
  seen.metered1 = await verify(process.env.METERED, { credits: { cost: 1 }, ratelimits: [{ name: "api" }] });
  seen.metered2 = await verify(process.env.METERED);
  seen.metered3 = await verify(process.env.METERED);
  seen.few1 = await verify(process.env.FEW);
  seen.few2 = await verify(process.env.FEW);
  const burst = [{ name: "burst", limit: 1, duration: 60000 }];
  seen.adhoc1 = await verify(process.env.VALID, { ratelimits: burst });
  seen.adhoc2 = await verify(process.env.VALID, { ratelimits: burst });
  try {
    await new Unkey({ rootKey: "wrong", serverURL }).keys.verifyKey({ key: process.env.VALID });
    seen.wrong_root = "accepted";
  } catch (e) {
    if (!(e instanceof UnauthorizedErrorResponse)) throw e;
    seen.wrong_root = { status: e.data$.error.status, type: e.data$.error.type };
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
"#;

fn sdk_env(cmd: &mut Command, s: &Serve, keys: &Keys) {
    cmd.env("SERVER_URL", format!("http://127.0.0.1:{}", s.port))
        .env("ROOT_KEY", ROOT_KEY)
        .env("VALID", &keys.valid)
        .env("REVOKED", &keys.revoked)
        .env("EXPIRED", &keys.expired)
        .env("METERED", &keys.metered)
        .env("FEW", &keys.few);
}

#[test]
fn unkey_py_verifies_keys_against_keyward() {
    let Some(py) = python() else { return };
    let (v, keys) = vault();
    let s = serve(&v);
    let script = v.dir().join("verify.py");
    std::fs::write(&script, PY).expect("script");
    let mut cmd = Command::new(py);
    cmd.arg(&script);
    sdk_env(&mut cmd, &s, &keys);
    let out =
        run(&mut cmd).unwrap_or_else(|e| panic!("unkey-py failed: {e}\nserve: {}", s.log_text()));
    check(&out, &keys);
}

#[test]
fn unkey_api_for_node_verifies_keys_against_keyward() {
    let Some(dir) = node() else { return };
    let (v, keys) = vault();
    let s = serve(&v);
    let script = dir.join(format!("verify-{}.cjs", std::process::id()));
    std::fs::write(&script, JS).expect("script");
    let mut cmd = Command::new("node");
    cmd.arg(&script).current_dir(Path::new(&dir));
    sdk_env(&mut cmd, &s, &keys);
    let out = run(&mut cmd);
    let _ = std::fs::remove_file(&script);
    let out = out.unwrap_or_else(|e| panic!("@unkey/api failed: {e}\nserve: {}", s.log_text()));
    check(&out, &keys);
}

/// The admin routes through each SDK: what a product's key dialog does.
const ADMIN_PY: &str = r#"
import json, os
from unkey.py import Unkey, errors

url, root = os.environ["SERVER_URL"], os.environ["ADMIN_ROOT"]
seen = {}
with Unkey(root_key=root, server_url=url) as unkey:
    made = unkey.keys.create_key(api_id="prod", name="acme", external_id="acct_1", meta={"plan": "pro"},
                                 permissions=["read"], credits={"remaining": 50},
                                 ratelimits=[{"name": "api", "limit": 10, "duration": 60000}])
    seen["created"] = {"keyId": made.data.key_id, "key": made.data.key}
    got = unkey.keys.get_key(key_id=made.data.key_id).data
    seen["got"] = {"name": got.name, "externalId": got.identity.external_id, "meta": got.meta,
                   "permissions": got.permissions, "remaining": got.credits.remaining,
                   "limit": got.ratelimits[0].limit, "enabled": got.enabled}
    who = unkey.keys.whoami(key=made.data.key).data
    seen["whoami"] = who.key_id
    rolled = unkey.keys.reroll_key(key_id=made.data.key_id, expiration=3600000).data
    seen["rolled"] = {"keyId": rolled.key_id, "key": rolled.key}
    unkey.keys.update_key(key_id=rolled.key_id, name="acme-2", meta={"plan": "team"})
    seen["updated"] = unkey.keys.get_key(key_id=rolled.key_id).data.name
    ids, page = [], unkey.apis.list_keys(api_id="prod", limit=1)
    while page is not None:
        ids += [k.key_id for k in page.result.data]
        page = page.next()
    seen["listed"] = ids
    unkey.keys.delete_key(key_id=rolled.key_id)
    # PostgreSQL: serve honours a revoke within 1 s.
    import time
    for _ in range(30):
        seen["deleted"] = unkey.keys.verify_key(key=rolled.key).data.code
        if seen["deleted"] != "VALID":
            break
        time.sleep(0.1)
    try:
        unkey.keys.create_key(api_id="admin", name="x")
        seen["admin_env"] = "accepted"
    except errors.ForbiddenErrorResponse as e:
        seen["admin_env"] = e.data.error.status
print(json.dumps(seen))
"#;

const ADMIN_JS: &str = r#"
const { Unkey } = require("@unkey/api");
const { ForbiddenErrorResponse } = require("@unkey/api/models/errors");
(async () => {
  const unkey = new Unkey({ rootKey: process.env.ADMIN_ROOT, serverURL: process.env.SERVER_URL });
  const seen = {};
  const made = await unkey.keys.createKey({ apiId: "prod", name: "acme", externalId: "acct_1", meta: { plan: "pro" },
    permissions: ["read"], credits: { remaining: 50 }, ratelimits: [{ name: "api", limit: 10, duration: 60000 }] });
  seen.created = { keyId: made.data.keyId, key: made.data.key };
  const got = (await unkey.keys.getKey({ keyId: made.data.keyId })).data;
  seen.got = { name: got.name, externalId: got.identity.externalId, meta: got.meta, permissions: got.permissions,
    remaining: got.credits.remaining, limit: got.ratelimits[0].limit, enabled: got.enabled };
  seen.whoami = (await unkey.keys.whoami({ key: made.data.key })).data.keyId;
  const rolled = (await unkey.keys.rerollKey({ keyId: made.data.keyId, expiration: 3600000 })).data;
  seen.rolled = { keyId: rolled.keyId, key: rolled.key };
  await unkey.keys.updateKey({ keyId: rolled.keyId, name: "acme-2", meta: { plan: "team" } });
  seen.updated = (await unkey.keys.getKey({ keyId: rolled.keyId })).data.name;
  const ids = [];
  for await (const page of await unkey.apis.listKeys({ apiId: "prod", limit: 1 })) {
    ids.push(...page.result.data.map((k) => k.keyId));
  }
  seen.listed = ids;
  await unkey.keys.deleteKey({ keyId: rolled.keyId });
  // PostgreSQL: serve honours a revoke within 1 s.
  for (let i = 0; i < 30; i++) {
    seen.deleted = (await unkey.keys.verifyKey({ key: rolled.key })).data.code;
    if (seen.deleted !== "VALID") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await unkey.keys.createKey({ apiId: "admin", name: "x" });
    seen.admin_env = "accepted";
  } catch (e) {
    if (!(e instanceof ForbiddenErrorResponse)) throw e;
    seen.admin_env = e.data$.error.status;
  }
  console.log(JSON.stringify(seen));
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// A vault with a root key (every permission, verify_key too) and prod's
/// default key, served with `--admin-env admin`.
fn admin_vault(v: &TestVault) -> (Serve, String) {
    v.kw(["config", "set", "max-keys", "50"]).assert().success();
    let root = v.create(&[
        "--name",
        "root",
        "--env",
        "admin",
        "--scope",
        "api.*.create_key",
        "--scope",
        "api.*.read_key",
        "--scope",
        "api.*.update_key",
        "--scope",
        "api.*.delete_key",
        "--scope",
        "api.*.verify_key",
    ]);
    v.create(&["--name", "main", "--env", "prod"]);
    (Serve::start(v, &["--admin-env", "admin"], &[]), root)
}

fn check_admin(out: &str, v: &TestVault) {
    let seen: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let created = seen["created"]["keyId"].as_str().expect("keyId");
    assert_eq!(seen["got"]["name"], "acme", "{seen}");
    assert_eq!(seen["got"]["externalId"], "acct_1", "{seen}");
    assert_eq!(seen["got"]["meta"]["plan"], "pro", "{seen}");
    assert_eq!(
        seen["got"]["permissions"],
        serde_json::json!(["read"]),
        "{seen}"
    );
    assert_eq!(
        (
            seen["got"]["remaining"].as_i64(),
            seen["got"]["limit"].as_i64()
        ),
        (Some(50), Some(10)),
        "{seen}"
    );
    assert_eq!(seen["whoami"], created, "{seen}");
    let old = seen["created"]["key"].as_str().expect("key");
    let new = seen["rolled"]["key"].as_str().expect("key");
    assert_eq!(seen["updated"], "acme-2", "{seen}");
    assert_eq!(
        seen["listed"].as_array().map(Vec::len),
        Some(3),
        "main, the old key and its successor: {seen}"
    );
    assert_eq!(seen["deleted"], "DISABLED", "{seen}");
    assert_eq!(seen["admin_env"], 403, "{seen}");
    assert_eq!(
        v.verify(old, &[]).0,
        Some(0),
        "the old key verifies through its grace"
    );
    assert_eq!(v.verify(new, &[]).1["code"], "API_KEY_REVOKED");
    let log = v.json(["log", "--env", "prod"]);
    assert!(
        log.as_array().expect("log").iter().all(|e| e["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("root:") || a == ACTOR)),
        "{log}"
    );
}

crate::on_both_engines! {
    fn unkey_py_administers_keys_against_keyward(v: &TestVault) {
        let Some(py) = python() else { return };
        let (s, root) = admin_vault(v);
        let script = v.dir().join("admin.py");
        std::fs::write(&script, ADMIN_PY).expect("script");
        let mut cmd = Command::new(py);
        cmd.arg(&script)
            .env("SERVER_URL", format!("http://127.0.0.1:{}", s.port))
            .env("ADMIN_ROOT", &root);
        let out = run(&mut cmd).unwrap_or_else(|e| panic!("unkey-py failed: {e}\nserve: {}", s.log_text()));
        check_admin(&out, v);
    }

    fn unkey_api_for_node_administers_keys_against_keyward(v: &TestVault) {
        let Some(dir) = node() else { return };
        let (s, root) = admin_vault(v);
        let script = dir.join(format!("admin-{}-{}.cjs", std::process::id(), v.url.is_some()));
        std::fs::write(&script, ADMIN_JS).expect("script");
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .current_dir(&dir)
            .env("SERVER_URL", format!("http://127.0.0.1:{}", s.port))
            .env("ADMIN_ROOT", &root);
        let out = run(&mut cmd);
        let _ = std::fs::remove_file(&script);
        let out = out.unwrap_or_else(|e| panic!("@unkey/api failed: {e}\nserve: {}", s.log_text()));
        check_admin(&out, v);
    }
}
