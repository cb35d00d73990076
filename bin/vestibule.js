#!/usr/bin/env node
// Runs the compiled admin command line (npm run build first): vestibule --help lists the commands.
import '../dist/cli.js';
