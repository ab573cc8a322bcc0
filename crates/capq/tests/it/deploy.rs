//! What ships besides the binary: the image is built the way CI builds the binary it tests, and
//! the manifests' checks (scripts/check-deploy, scripts/validate-crds.py) pass on the real
//! manifests and fail on broken ones.

use std::path::Path;
use std::process::{Command, Output};

use capq_test_support::python::{repo_root, venv_bin, venv_python};

/// The one cargo command that builds the shipped binary, in CI and in the Dockerfile alike.
const RELEASE_BUILD: &str = "cargo build --release --locked -p capq";

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A shell script's commands: comments and blank lines dropped, `\` continuations joined.
fn script_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

/// The Dockerfile's instructions as (stage name, INSTRUCTION, arguments); continuations joined.
fn dockerfile_instructions(text: &str) -> Vec<(String, String, String)> {
    let mut stage = String::new();
    let mut instructions = Vec::new();
    for command in script_commands(text) {
        let (instruction, arguments) = command.split_once(' ').unwrap_or((&command, ""));
        let instruction = instruction.to_ascii_uppercase();
        let arguments = arguments.trim().to_owned();
        if instruction == "FROM" {
            let words: Vec<&str> = arguments.split_whitespace().collect();
            stage = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_owned(),
                _ => words.first().copied().unwrap_or_default().to_owned(),
            };
        }
        instructions.push((stage.clone(), instruction, arguments));
    }
    instructions
}

#[test]
fn the_image_builds_with_scripts_build_release_and_nothing_else() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let stages: Vec<&str> = instructions
        .iter()
        .filter(|(_, i, _)| i == "FROM")
        .map(|(stage, _, _)| stage.as_str())
        .collect();
    assert_eq!(
        stages.len(),
        2,
        "a build stage and a runtime stage: {stages:?}"
    );
    let build_stage = stages[0];
    let runs: Vec<(&str, &str)> = instructions
        .iter()
        .filter(|(_, i, _)| i == "RUN")
        .map(|(stage, _, args)| (stage.as_str(), args.as_str()))
        .collect();
    assert_eq!(
        runs,
        vec![(build_stage, "./scripts/build-release")],
        "the image's only RUN is the build stage's ./scripts/build-release"
    );
    // Nothing may change how cargo builds: no RUSTFLAGS, CARGO_* settings or build args.
    for (stage, instruction, arguments) in &instructions {
        assert!(
            !matches!(instruction.as_str(), "ENV" | "ARG")
                || !(arguments.contains("RUSTFLAGS") || arguments.contains("CARGO")),
            "{stage}: {instruction} {arguments} changes the build"
        );
        assert!(
            !arguments.contains("cargo "),
            "{stage}: {instruction} {arguments} runs cargo outside scripts/build-release"
        );
    }
    // The runtime stage ships the binary the build stage made, as the entrypoint.
    let copies: Vec<&str> = instructions
        .iter()
        .filter(|(stage, i, _)| stage != build_stage && i == "COPY")
        .map(|(_, _, args)| args.as_str())
        .collect();
    assert!(
        copies.contains(
            &format!("--from={build_stage} /src/target/release/capq /usr/local/bin/capq").as_str()
        ),
        "{copies:?}"
    );
    assert!(
        instructions
            .iter()
            .any(|(_, i, args)| i == "ENTRYPOINT" && args == "[\"/usr/local/bin/capq\"]"),
        "ENTRYPOINT is capq"
    );
}

#[test]
fn build_release_is_exactly_the_locked_release_build_of_capq() {
    let script = read("scripts/build-release");
    let commands = script_commands(&script);
    let cargo: Vec<&String> = commands.iter().filter(|c| c.contains("cargo")).collect();
    assert_eq!(cargo, vec![RELEASE_BUILD], "{script}");
    for forbidden in [
        "--features",
        "--no-default-features",
        "--all-features",
        "RUSTFLAGS",
        "CARGO_",
    ] {
        assert!(
            !script.contains(forbidden),
            "scripts/build-release mentions {forbidden}"
        );
    }
}

#[test]
fn ci_tests_the_binary_the_image_ships() {
    let commands = script_commands(&read("scripts/test"));
    let position = |wanted: &dyn Fn(&str) -> bool, what: &str| {
        commands
            .iter()
            .position(|c| wanted(c))
            .unwrap_or_else(|| panic!("scripts/test does not {what}: {commands:#?}"))
    };
    let setup = position(
        &|c| c == "scripts/setup-test-env",
        "run scripts/setup-test-env",
    );
    let fmt = position(&|c| c.starts_with("cargo fmt"), "check formatting");
    let clippy = position(&|c| c.starts_with("cargo clippy"), "run clippy");
    let check_deploy = position(&|c| c == "scripts/check-deploy", "run scripts/check-deploy");
    let build = position(
        &|c| c == "scripts/build-release",
        "run scripts/build-release",
    );
    let test = position(
        &|c| c.starts_with("CAPQ_BIN=\"$PWD/target/release/capq\" cargo test --workspace --locked"),
        "run the tests with CAPQ_BIN=\"$PWD/target/release/capq\"",
    );
    assert!(
        setup < fmt
            && fmt < clippy
            && clippy < check_deploy
            && check_deploy < build
            && build < test,
        "{commands:#?}"
    );
    assert!(
        !commands.iter().any(|c| c.starts_with("cargo build")),
        "scripts/test builds the release binary only through scripts/build-release"
    );
    // One failing test binary must not hide the others' results.
    assert!(
        commands[test]
            .split_whitespace()
            .any(|w| w == "--no-fail-fast"),
        "scripts/test runs cargo test without --no-fail-fast: {}",
        commands[test]
    );
    // CI runs scripts/test.
    assert!(
        script_commands(&read(".ci/run"))
            .iter()
            .any(|c| c == "./scripts/test")
    );
}

fn validate_crds(file: &Path) -> Output {
    Command::new(venv_python())
        .arg(repo_root().join("scripts/validate-crds.py"))
        .arg(repo_root().join("deploy/k8s/schemas"))
        .arg(file)
        .output()
        .expect("validate-crds.py runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_crds_passes_the_real_keda_objects() {
    let output = validate_crds(&repo_root().join("deploy/k8s/overlays/production/keda.yaml"));
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert_eq!(
        text(&output.stdout),
        "PASS ScaledObject/capq-worker\nPASS TriggerAuthentication/capq-redis\n"
    );
}

#[test]
fn validate_crds_rejects_unknown_fields_wrong_types_and_kinds_without_a_schema() {
    let real = read("deploy/k8s/overlays/production/keda.yaml");
    let dir = tempfile::tempdir().unwrap();
    // A misspelt field and a number given as text in the ScaledObject, an unknown field deep in a
    // trigger's authenticationRef, and a TriggerAuthentication left intact.
    let broken = real
        .replacen("  pollingInterval: 10\n", "  pollingIntervall: 10\n", 1)
        .replacen("  minReplicaCount: 2\n", "  minReplicaCount: two\n", 1)
        .replacen(
            "        name: capq-redis\n",
            "        name: capq-redis\n        namespace: elsewhere\n",
            1,
        );
    assert_ne!(broken, real, "the edits apply");
    let file = dir.path().join("keda.yaml");
    std::fs::write(&file, &broken).unwrap();
    let output = validate_crds(&file);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    for expected in [
        "INVALID ScaledObject/capq-worker: spec: Additional properties are not allowed ('pollingIntervall' was unexpected)",
        "INVALID ScaledObject/capq-worker: spec.minReplicaCount: 'two' is not of type 'integer'",
        "INVALID ScaledObject/capq-worker: spec.triggers[0].authenticationRef: Additional properties are not allowed ('namespace' was unexpected)",
        "PASS TriggerAuthentication/capq-redis",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }

    // A custom resource with no vendored schema fails; so does one without a name.
    std::fs::write(
        &file,
        "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata:\n  name: nightly\nspec: {}\n---\n\
         apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata: {}\nspec: {}\n",
    )
    .unwrap();
    let output = validate_crds(&file);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("INVALID ScaledJob/nightly: (document): no vendored schema for keda.sh/v1alpha1 ScaledJob"),
        "{stdout}"
    );
    assert!(
        stdout.contains("INVALID TriggerAuthentication/<document 1>: metadata.name: is required"),
        "{stdout}"
    );
}

fn check_deploy(repo: &Path) -> Output {
    Command::new(repo.join("scripts/check-deploy"))
        .current_dir(repo)
        .output()
        .expect("scripts/check-deploy runs")
}

#[test]
fn check_deploy_passes_on_the_real_manifests() {
    let output = check_deploy(&repo_root());
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for expected in [
        "deploy_k8s_base: 8 built-in objects valid",
        "deploy_k8s_overlays_local: 11 built-in objects valid",
        "deploy_k8s_overlays_production: 9 built-in objects valid",
        "PASS ScaledObject/capq-worker",
        "hadolint: Dockerfile clean",
        "yamllint: deploy/k8s clean",
        "all deploy checks passed",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_deploy_fails_on_an_unknown_field_and_an_unknown_kind() {
    // A copy of what check-deploy reads, with the same virtualenv.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path();
    std::fs::create_dir(copy.join("scripts")).unwrap();
    for file in [
        "Dockerfile",
        ".yamllint.yaml",
        "scripts/check-deploy",
        "scripts/validate-crds.py",
    ] {
        std::fs::copy(repo_root().join(file), copy.join(file)).unwrap();
    }
    let status = Command::new("cp")
        .arg("-R")
        .arg(repo_root().join("deploy"))
        .arg(copy)
        .status()
        .unwrap();
    assert!(status.success());
    let venv = venv_bin("kubernetes-validate");
    let venv = venv.parent().and_then(Path::parent).unwrap();
    std::os::unix::fs::symlink(venv, copy.join(".venv")).unwrap();

    // A misspelt field in the worker Deployment's pod spec, which Kubernetes would silently drop.
    let worker = copy.join("deploy/k8s/base/worker.yaml");
    let manifest = std::fs::read_to_string(&worker).unwrap();
    let broken = manifest.replacen(
        "      terminationGracePeriodSeconds: 45\n",
        "      terminationGracePeriod: 45\n",
        1,
    );
    assert_ne!(broken, manifest, "the edit applies");
    std::fs::write(&worker, broken).unwrap();
    // A kind kubernetes-validate has no schema for: only a WARN from it, a failure here.
    std::fs::write(
        copy.join("deploy/k8s/examples/monitor.yaml"),
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: capq-worker\n\
         spec:\n  endpoints:\n    - port: metrics\n",
    )
    .unwrap();

    let output = check_deploy(copy);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for expected in [
        "deploy_k8s_base: kubernetes-validate failed",
        "Additional properties are not allowed ('terminationGracePeriod' was unexpected)",
        "monitor: kubernetes-validate warned (counted as a failure)",
        "Couldn't find schema for kind ServiceMonitor",
        "check-deploy: FAILED",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}
