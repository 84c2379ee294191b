import { BartConfig } from '../bart/configuration_bart.js';
import { ConfigError } from '../configuration_utils.js';

/** MarianMT's config.json: BART's fields with Marian's defaults (opus-mt sizes, pad = decoder start). */
export class MarianConfig extends BartConfig {
  static override readonly modelType: string = 'marian';

  override vocabSize = this.size('vocab_size', 58101);
  decoderVocabSize = this.optNum('decoder_vocab_size');
  override dropout = this.num('dropout', 0.1);
  override activationFunction = this.str('activation_function', 'gelu');
  override forcedEosTokenId = this.tokenIds('forced_eos_token_id', 0);
  override padTokenId = this.optNum('pad_token_id', 58100);
  override eosTokenId = this.tokenIds('eos_token_id', 0);
  override bosTokenId = this.optNum('bos_token_id');
  override decoderStartTokenId = this.optNum('decoder_start_token_id', 58100);
  shareEncoderDecoderEmbeddings = this.bool('share_encoder_decoder_embeddings', true);

  constructor(raw: Record<string, unknown> = {}, source = 'config') {
    super(raw, source);
    if (
      !this.shareEncoderDecoderEmbeddings ||
      (this.decoderVocabSize !== null && this.decoderVocabSize !== this.vocabSize)
    ) {
      throw new ConfigError(
        `${source}: Marian with separate encoder and decoder vocabularies (share_encoder_decoder_embeddings false or decoder_vocab_size ≠ vocab_size) is not supported`,
      );
    }
  }
}
