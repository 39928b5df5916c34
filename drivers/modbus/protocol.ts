/**
 * The Modbus codes the gateway's reads use (Modbus Application Protocol 1.1b3): the read function
 * of each register table and the exception codes a slave answers with. The driver's master
 * (modbus-serial) puts them on the wire itself; the simulated slave in firmware-sim answers them.
 */
export type RegisterTable = 'holding' | 'input';

/** Read Holding Registers (3) and Read Input Registers (4). */
export const READ_FUNCTION = { holding: 3, input: 4 } as const satisfies Record<RegisterTable, number>;

/** An exception reply is the function code with its high bit set, then one of these. */
export const EXCEPTION_FLAG = 0x80;
export const EXCEPTION = { illegalFunction: 1, illegalDataAddress: 2, deviceBusy: 6 } as const;
