// Lab test files run in name order (10-..., 20-..., 90-...): later ones may change the hosts.
const Sequencer = require("@jest/test-sequencer").default;
module.exports = class ByName extends Sequencer {
    sort(tests) {
        return [...tests].sort((a, b) => a.path.localeCompare(b.path));
    }
};
