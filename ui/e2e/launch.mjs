// How the e2e tests and benchmarks start Debian's Chromium: headless, and quiet on this
// machine's closed network (no background connections, no component updates, no sync).
export const LAUNCH_OPTIONS = {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};
