#!/usr/bin/env node
// Runs the compiled command-line tools (npm run build first): vestibule check-config | hash-password | config-schema.
import '../dist/cli.js';
