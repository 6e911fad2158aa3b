"""Pages tested as a person sees them: Debian's Chromium driven by Playwright against a real `repairbot serve`."""
