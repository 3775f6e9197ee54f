// A charging station on ocpp-rpc (Node.js), for tests/test_gateway_interop.py: it connects to the
// URL given, boots, answers SetChargingProfile and TriggerMessage with strict OCPP 2.0.1 schema
// validation, and prints one JSON line per event on stdout. It stops when its stdin closes.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const [endpoint, identity, protocol] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

async function main() {
    const cli = new RPCClient({
        endpoint,
        identity,
        protocols: [protocol],
        strictMode: true,
        reconnect: false,
    });
    cli.on('close', ({ code, reason }) => say({ event: 'close', code, reason: String(reason) }));
    cli.on('strictValidationFailure', ({ error }) => say({ event: 'invalid', error: String(error) }));
    cli.handle('SetChargingProfile', ({ params }) => {
        say({ event: 'call', method: 'SetChargingProfile', params });
        return { status: 'Accepted' };
    });
    cli.handle('TriggerMessage', ({ params }) => {
        say({ event: 'call', method: 'TriggerMessage', params });
        return { status: 'Accepted' };
    });
    await cli.connect();
    say({ event: 'connected', protocol: cli.protocol });
    const boot = await cli.call('BootNotification', {
        reason: 'PowerUp',
        chargingStation: { model: 'node-station', vendorName: 'ocpp-rpc' },
    });
    say({ event: 'boot', response: boot });
    process.stdin.resume();
    process.stdin.on('end', async () => {
        await cli.close({ code: 1000, reason: 'done' });
        process.exit(0);
    });
}

main().catch((err) => {
    say({ event: 'error', error: String(err && err.stack || err) });
    process.exit(1);
});
