import { BertConfig } from '../bert/configuration_bert.js';

/** RoBERTa's config.json: BERT's fields; its ids put padding at 1 and <s> / </s> at 0 / 2. */
export class RobertaConfig extends BertConfig {
  static override readonly modelType: string = 'roberta';

  override padTokenId = this.optNum('pad_token_id', 1);
  override bosTokenId = this.optNum('bos_token_id', 0);
  override eosTokenId = this.tokenIds('eos_token_id', 2);
}
