//! update: renames a key and changes its scopes and note, recorded as one
//! `updated` event; a taken name, a scope both added and removed, or a key
//! already rotated is refused, and an update that changes nothing says so
//! and writes nothing.

use crate::common::*;

crate::on_both_engines! {
    fn update_renames_changes_scopes_and_notes_with_an_event(v: &TestVault) {
        let (key, _) = v.create_json(&[
            "--name", "web", "--scope", "read", "--scope", "admin", "--note", "first",
        ]);
        assert_eq!(key["note"], "first");
        let id = key["id"].as_str().expect("id");
        let out = v
            .kw([
                "--json",
                "update",
                "web",
                "--name",
                "web-frontend",
                "--add-scope",
                "deploy",
                "--remove-scope",
                "admin",
                "--note",
                "owned by payments",
            ])
            .assert()
            .success();
        let updated = json(&out);
        assert_eq!(updated["id"], id);
        assert_eq!(updated["name"], "web-frontend");
        assert_eq!(updated["scopes"], serde_json::json!(["read", "deploy"]));
        assert_eq!(updated["note"], "owned by payments");
        let event = &v.json(["log", "--event", "updated"])[0];
        assert_eq!(event["key_id"], id);
        assert_eq!(
            event["details"],
            serde_json::json!({
                "old_name": "web", "new_name": "web-frontend",
                "old_scopes": ["read", "admin"], "new_scopes": ["read", "deploy"],
                "old_note": "first", "new_note": "owned by payments",
            })
        );
        let log = stdout(&v.kw(["log", "--event", "updated"]).assert().success());
        assert!(
            log.contains("renamed from web") && log.contains("scopes added: deploy"),
            "{log}"
        );
        // A rotation carries the note over; the old key can no longer be updated.
        let rotated = v
            .kw(["--json", "rotate", "web-frontend", "--grace", "1h"])
            .assert()
            .success();
        let successor = json(&rotated)["key"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        assert_eq!(json(&rotated)["key"]["note"], "owned by payments");
        let refused = v.kw(["update", id, "--note", "x"]).assert().code(4);
        assert!(
            stderr(&refused).contains(&successor),
            "{}",
            stderr(&refused)
        );
        // "" clears the note.
        v.kw(["update", "web-frontend", "--note", ""])
            .assert()
            .success();
        assert_eq!(
            v.json(["show", "web-frontend"])["note"],
            serde_json::Value::Null
        );
    }

    fn update_refuses_a_taken_name_and_changes_nothing_when_nothing_differs(v: &TestVault) {
        v.create(&["--name", "web"]);
        v.create(&["--name", "api", "--scope", "read"]);
        let before = v.dump();
        let taken = v
            .kw(["--json", "update", "api", "--name", "web"])
            .assert()
            .code(4);
        let err: serde_json::Value =
            serde_json::from_slice(&taken.get_output().stderr).expect("json error");
        assert_eq!(err["error"]["code"], "NAME_TAKEN");
        v.kw(["update", "api"]).assert().code(2);
        let same = v
            .kw(["update", "api", "--add-scope", "read"])
            .assert()
            .success();
        assert!(
            stderr(&same).contains("Nothing changed"),
            "{}",
            stderr(&same)
        );
        assert_eq!(v.dump(), before);
    }

    /// A scope both added and removed by one `update` is refused (exit 2),
    /// and nothing changes.
    fn update_refuses_a_scope_both_added_and_removed(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        let out = v
            .kw(["update", "web", "--add-scope", "x", "--remove-scope", "x"])
            .assert()
            .code(2);
        assert!(stderr(&out).contains("'x' is both added and removed"));
        assert_eq!(v.dump(), before);
    }
}
