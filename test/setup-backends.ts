// Tests import library modules directly, not the package entry that registers the backends: register them here.
import '../src/backends/register.js';
