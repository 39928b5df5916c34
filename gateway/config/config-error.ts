/** A refused config. Apart from the validator, so that commands can recognise one without loading it. */

/** Config problems, one readable line each, naming the key path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}
