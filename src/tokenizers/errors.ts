/**
 * A tokenizer file that is missing, unreadable or malformed. The message names the file and, where one is at fault,
 * the field, so a user can fix the file without reading our code.
 */
export class TokenizerFileError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(field === undefined ? `${file}: ${detail}` : `${file}: field "${field}": ${detail}`);
    this.name = 'TokenizerFileError';
  }
}
