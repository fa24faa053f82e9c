// Copies the tool logos the portal serves from Simple Icons (CC0) into
// portal/static/portal/icons/, one <slug>.svg each, in the brand's colour (unless too pale), with the
// licence note and the version. The SVGs are committed: bin/run and bin/test need no npm.
//
//   cd devtools/icons && npm ci && node vendor.mjs
//
// A logo is shown next to the service's name, so it is decorative: the copy drops the
// <title> and role="img" that Simple Icons ships for stand-alone use.
import { readFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as simpleIcons from "simple-icons";

// The platform tools the shipped catalog and the seed page name, and their usual
// neighbours on such a platform, by their Simple Icons slug (the name catalog YAML uses).
const WANTED = [
  "apacheairflow", "apachekafka", "apachespark", "ansible", "argo", "celery", "dask", "django",
  "docker", "elasticsearch", "gitea", "github", "gitlab", "grafana", "harbor", "helm",
  "jaeger", "jenkins", "jupyter", "keycloak", "kibana", "kubernetes", "mariadb", "mattermost",
  "minio", "mlflow", "mongodb", "mysql", "nginx", "opensearch", "opentelemetry", "podman",
  "portainer", "postgresql", "prometheus", "rabbitmq", "rancher", "redis", "sentry", "sqlite",
  "terraform", "traefikproxy", "vault",
];

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "..", "portal", "static", "portal", "icons");
const packageJson = join(here, "node_modules", "simple-icons", "package.json");
const { version } = JSON.parse(readFileSync(packageJson, "utf8"));

const bySlug = new Map(Object.values(simpleIcons).map((icon) => [icon.slug, icon]));
const missing = WANTED.filter((slug) => !bySlug.has(slug));
if (missing.length) {
  console.error(`not in simple-icons ${version}: ${missing.join(", ")}`);
  process.exit(1);
}

// A brand colour too pale to see on the portal's light cards (Vault's yellow) is drawn in
// the portal's ink colour instead.
const INK = "172033";
function visibleColour(hex) {
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6 ? INK : hex;
}

mkdirSync(target, { recursive: true });
for (const name of readdirSync(target)) {
  if (name.endsWith(".svg")) rmSync(join(target, name));
}
for (const slug of [...WANTED].sort()) {
  const icon = bySlug.get(slug);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="#${visibleColour(icon.hex)}">` +
    `<path d="${icon.path}"/></svg>\n`;
  writeFileSync(join(target, `${slug}.svg`), svg);
}
writeFileSync(
  join(target, "LICENSE.md"),
  `# Tool logos\n\n` +
    `From Simple Icons ${version} (https://simpleicons.org, npm \`simple-icons\`), under CC0 1.0\n` +
    `Universal (public domain dedication): ${WANTED.length} icons, copied by\n` +
    `devtools/icons/vendor.mjs in each brand's colour. The logos remain their owners'\n` +
    `trademarks (Simple Icons' DISCLAIMER.md); the portal shows each only next to the tool it\n` +
    `names.\n\n` +
    `A service's \`icon\` is one of these file names without \`.svg\`; a service without one\n` +
    `gets a monogram.\n`,
);
console.log(`simple-icons ${version}: ${WANTED.length} icons in ${target}`);
