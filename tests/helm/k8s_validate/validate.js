#!/usr/bin/env node
// Validates a multi-document YAML stream (stdin, e.g. `helm template` output)
// against the Kubernetes OpenAPI-derived JSON schemas shipped in the npm
// package kubernetes-models (and @kubernetes-models/prometheus-operator for
// monitoring.coreos.com CRDs). Works offline once `npm ci` has run here.
//
// Prints one line per object:
//   ok <apiVersion> <kind> <name>
//   invalid <apiVersion> <kind> <name>: <reason>
//   skipped <apiVersion> <kind> <name>: <reason>   (explicit SKIPPED_KINDS only)
// Exit status: 0 when every object is valid (or explicitly skipped), 1 otherwise
// (schema error, unknown apiVersion/kind, unparsable YAML), 2 on usage errors.
//
// Note: the OpenAPI schemas do not forbid unknown fields, so a misspelt field
// name is not reported; wrong types, missing required fields, bad enums are.
"use strict";

const YAML = require("yaml");

// apiVersion group -> module prefix providing "<prefix>/<version>" exports.
const CRD_MODULES = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator/monitoring.coreos.com",
};

// "<apiVersion> <kind>" pairs deliberately not validated (none at present).
const SKIPPED_KINDS = new Map();

function modulePath(apiVersion) {
  const slash = apiVersion.indexOf("/");
  if (slash < 0) return `kubernetes-models/${apiVersion}`; // core group: "v1"
  const group = apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  if (CRD_MODULES[group]) return `${CRD_MODULES[group]}/${version}`;
  return `kubernetes-models/${group}/${version}`;
}

async function modelFor(apiVersion, kind) {
  let mod;
  try {
    mod = await import(modulePath(apiVersion));
  } catch (err) {
    return { error: `unknown apiVersion (${err.code || err.message})` };
  }
  const cls = mod[kind];
  // Only top-level resources carry static apiVersion/kind; nested types do not.
  if (typeof cls !== "function" || cls.apiVersion !== apiVersion || cls.kind !== kind) {
    return { error: "unknown kind for this apiVersion" };
  }
  return { cls };
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

async function main() {
  if (process.stdin.isTTY) {
    console.error("usage: helm template ... | node validate.js");
    return 2;
  }
  const text = await readStdin();
  let failures = 0;
  let count = 0;
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors && doc.errors.length) {
      console.log(`invalid - - -: YAML parse error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue; // empty document
    count++;
    if (typeof obj !== "object" || Array.isArray(obj)) {
      console.log(`invalid - - -: document is not a mapping`);
      failures++;
      continue;
    }
    const apiVersion = typeof obj.apiVersion === "string" ? obj.apiVersion : "-";
    const kind = typeof obj.kind === "string" ? obj.kind : "-";
    const name = (obj.metadata && obj.metadata.name) || "-";
    const label = `${apiVersion} ${kind} ${name}`;
    if (apiVersion === "-" || kind === "-") {
      console.log(`invalid ${label}: missing apiVersion or kind`);
      failures++;
      continue;
    }
    const skip = SKIPPED_KINDS.get(`${apiVersion} ${kind}`);
    if (skip) {
      console.log(`skipped ${label}: ${skip}`);
      continue;
    }
    const { cls, error } = await modelFor(apiVersion, kind);
    if (error) {
      console.log(`invalid ${label}: ${error}`);
      failures++;
      continue;
    }
    try {
      new cls(obj).validate();
      console.log(`ok ${label}`);
    } catch (err) {
      console.log(`invalid ${label}: ${String(err.message || err).replace(/\s+/g, " ")}`);
      failures++;
    }
  }
  if (count === 0) {
    console.log("invalid - - -: no objects in input");
    return 1;
  }
  return failures ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exitCode = 2;
  }
);
